#!/usr/bin/env bash
# Runs every fuzz target (ingest's decoders, and the per-line topics' frames and records) for SECONDS (default 60) each; prints executions and crashes per target
# and fails if any target crashed. Needs cargo-fuzz (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
cd ingest
targets=$(cargo fuzz list --fuzz-dir fuzz)
failed=0
for target in $targets; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  cp tests/fixtures/*.json tests/fixtures/*.jsonl tests/fixtures/*.log tests/fixtures/*.ndjson tests/fixtures/*.out "$corpus"/ 2>/dev/null || true
  cp fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  log=$(mktemp)
  if cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed=1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -n1 | tr -d '#')
  echo "fuzz: $target: $status, ${execs:-?} executions in ${seconds}s"
  if [ "$status" = CRASH ]; then tail -n 40 "$log"; fi
  rm -f "$log"
done
exit "$failed"
