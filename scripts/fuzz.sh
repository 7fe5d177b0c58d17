#!/usr/bin/env bash
# Runs every fuzz target (ingest's decoders, and the per-line topics' frames and records) for SECONDS (default 60) each; prints executions and crashes per target
# and fails if any target crashed. Needs cargo-fuzz (installed here when missing). The targets are built
# once, then run side by side, one per core (MEDIC_FUZZ_JOBS, default nproc): each target is one process on
# one core, so each gets the executions it would get alone, and on two cores CI waits for about half of
# the targets' seconds instead of all of them.
#
#   scripts/fuzz.sh [SECONDS]   build, then run every target
#   scripts/fuzz.sh --build     build only (CI builds while the tests run; the targets have a target
#                               directory of their own, ingest/fuzz/target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
jobs="${MEDIC_FUZZ_JOBS:-$(nproc)}"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: MEDIC_FUZZ_JOBS=$jobs is not a positive number" >&2; exit 2; }
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
cd ingest
cargo fuzz build --fuzz-dir fuzz
[ "$seconds" = --build ] && exit 0
targets=$(cargo fuzz list --fuzz-dir fuzz)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs one target on its corpus (the ingest fixtures and the target's seeds); its exit status says whether
# it crashed, its output goes to $logs/TARGET.
fuzz_one() {
  local target=$1 corpus="fuzz/corpus/$1"
  mkdir -p "$corpus"
  cp tests/fixtures/*.json tests/fixtures/*.jsonl tests/fixtures/*.log tests/fixtures/*.ndjson tests/fixtures/*.out "$corpus"/ 2>/dev/null || true
  cp fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536 \
    -print_final_stats=1 >"$logs/$target" 2>&1
}

pids=()
for target in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$target" &
  pids+=("$target:$!")
done

failed=0
for entry in "${pids[@]}"; do
  target=${entry%%:*}
  if wait "${entry#*:}"; then status=ok; else status=CRASH; failed=1; fi
  log="$logs/$target"
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -n1 | tr -d '#' || true)
  echo "fuzz: $target: $status, ${execs:-?} executions in ${seconds}s"
  if [ "$status" = CRASH ]; then tail -n 40 "$log"; fi
done
exit "$failed"
