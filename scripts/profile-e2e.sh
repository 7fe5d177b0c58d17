#!/usr/bin/env bash
# Profiles the hottest stage of `medic bench e2e` and writes a report under target/profile/.
#
#   scripts/profile-e2e.sh [LINES] [STAGE]
#
# 1. Builds medic in release with debug symbols (CARGO_PROFILE_RELEASE_DEBUG=true) into its own target
#    directory ($PROFILE_TARGET_DIR, default target/release-debuginfo), so the plain release build is not
#    invalidated. MEDIC_BIN=path skips the build and uses that binary (e.g. target/debug/medic, to try
#    the script quickly).
# 2. Without STAGE, runs `medic bench e2e --lines LINES $BENCH_ARGS` once (target/profile/bench.json) and
#    takes the stage with the most busy seconds (time spent in batches).
# 3. Runs the bench again and records that stage's process:
#    - perf (PROFILE_TOOL=perf, the default where `perf record` works): `perf record -g` attached to the
#      stage's process until it exits (call graphs: $PERF_CALL_GRAPH, default dwarf; $PERF_FREQ Hz,
#      default 499); report: target/profile/<stage>-perf-report.txt (`perf report --stdio --no-children`:
#      hottest symbols, then call graphs), data: target/profile/<stage>-perf.data.
#    - callgrind (PROFILE_TOOL=callgrind, or when perf cannot record): the stage runs under
#      `valgrind --tool=callgrind` (`medic bench e2e --wrap`), 20-100x slower; report:
#      target/profile/<stage>-callgrind-report.txt (callgrind_annotate), data: <stage>-callgrind.out.
#    The profiled run's JSON is target/profile/bench-profiled.json (its figures are the profiled ones).
#
# LINES defaults to 200000; BENCH_ARGS defaults to "--workloads 64".
set -euo pipefail
cd "$(dirname "$0")/.."

lines=${1:-200000}
stage=${2:-}
out=target/profile
mkdir -p "$out"
read -r -a bench_args <<<"${BENCH_ARGS:---workloads 64}"

if [[ -n ${MEDIC_BIN:-} ]]; then
    bin=$MEDIC_BIN
else
    build_dir=${PROFILE_TARGET_DIR:-target/release-debuginfo}
    echo "building medic (release, debug symbols) into $build_dir" >&2
    CARGO_PROFILE_RELEASE_DEBUG=true CARGO_TARGET_DIR=$build_dir cargo build --release --bin medic
    bin=$build_dir/release/medic
fi
[[ -x $bin ]] || { echo "no medic binary at $bin" >&2; exit 1; }

if [[ -z $stage ]]; then
    echo "finding the hottest stage: $bin bench e2e --lines $lines ${bench_args[*]}" >&2
    "$bin" bench e2e --lines "$lines" "${bench_args[@]}" >"$out/bench.json"
    stage=$(python3 -c '
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
print(max(stages, key=lambda s: stages[s]["busy_s"]))' "$out/bench.json")
fi
echo "profiling the $stage stage" >&2

tool=${PROFILE_TOOL:-}
if [[ -z $tool ]]; then
    if command -v perf >/dev/null && perf record -q -o /dev/null -- true >/dev/null 2>&1; then
        tool=perf
    elif command -v valgrind >/dev/null; then
        tool=callgrind
    else
        echo "neither perf (see /proc/sys/kernel/perf_event_paranoid) nor valgrind can profile here" >&2
        exit 1
    fi
fi

# The pid of the bench's child process running `--stage $1` (waits for it to start).
stage_pid() {
    local bench=$1 name=$2 pid=""
    for _ in $(seq 1200); do
        pid=$(ps --ppid "$bench" -o pid=,args= | awk -v s="--stage $name" 'index($0, s) { print $1; exit }')
        [[ -n $pid ]] && { echo "$pid"; return 0; }
        kill -0 "$bench" 2>/dev/null || break
        sleep 0.1
    done
    echo "the $name stage never started (see the bench's output)" >&2
    return 1
}

case $tool in
perf)
    "$bin" bench e2e --lines "$lines" "${bench_args[@]}" >"$out/bench-profiled.json" &
    bench=$!
    pid=$(stage_pid "$bench" "$stage")
    perf record -g --call-graph "${PERF_CALL_GRAPH:-dwarf}" -F "${PERF_FREQ:-499}" -p "$pid" \
        -o "$out/$stage-perf.data" 2>"$out/$stage-perf-record.log" &
    perf_pid=$!
    wait "$bench"
    wait "$perf_pid" || true # perf ends when the stage exits
    report=$out/$stage-perf-report.txt
    # --no-inline: resolving inlined frames through addr2line takes many minutes on a large binary.
    {
        echo "# $stage stage: hottest symbols (self time)"
        perf report -i "$out/$stage-perf.data" --stdio --no-children --no-inline -g none \
            --sort dso,symbol --percent-limit 0.5 2>/dev/null
        echo
        echo "# $stage stage: call graphs (callers of each hot symbol)"
        perf report -i "$out/$stage-perf.data" --stdio --no-children --no-inline \
            -g caller,0.5,callee,function,percent --percent-limit 2 2>/dev/null
    } >"$report"
    ;;
callgrind)
    "$bin" bench e2e --lines "$lines" "${bench_args[@]}" --timeout-secs 7200 \
        --wrap "$stage=valgrind --tool=callgrind --callgrind-out-file=$out/$stage-callgrind.out" \
        >"$out/bench-profiled.json"
    callgrind_annotate --auto=no --inclusive=yes "$out/$stage-callgrind.out" \
        >"$out/$stage-callgrind-report.txt" 2>/dev/null
    report=$out/$stage-callgrind-report.txt
    ;;
*)
    echo "PROFILE_TOOL must be perf or callgrind, not $tool" >&2
    exit 1
    ;;
esac

echo "report: $report" >&2
head -n 40 "$report"
