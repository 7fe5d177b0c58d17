#!/usr/bin/env bash
# False alarms on healthy traffic, per workload-hour: the digital twin runs fault-free days under the
# HPA policy on real invocation traces (one trace row per run), writes real-format logs, and
# `medic replay` runs them through every stage. Every diagnosis is counted; the twin's own SLA minutes
# (overload it could not scale away) are printed beside them, since a 503 burst is not a healthy minute.
#
#   scripts/false-alarms.sh [HOURS] [SEED:ROW ...]      (default: 24 h, seven seeds over seven rows)
#
# Needs a release build (cargo build --release). Prints one line per run and a JSON summary last.
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-24}
shift || true
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(101:3 102:1 103:2 104:5 105:7 106:9 107:4)
trace=../shared/data/workload/azure_functions_2019_invitro_sample/10/invocations.csv
medic=./target/release/medic
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for run in "${runs[@]}"; do
  seed=${run%%:*} row=${run##*:} dir=$work/$seed-$row
  "$medic" simulate --policy hpa --trace "$trace" --column "row:$row" --hours "$hours" --seed "$seed" \
    --out "$dir/twin" >/dev/null
  mkdir -p "$dir/bundle"
  cp -r "$dir/twin/var/log/pods" "$dir/bundle/pods"
  cp "$dir/twin/events.jsonl" "$dir/bundle/"
  printf 'title = "healthy twin: seed %s, trace row %s, %s h"\n' "$seed" "$row" "$hours" \
    >"$dir/bundle/incident.toml"
  "$medic" replay "$dir/bundle" --json --timeout-secs 1800 >"$dir/replay.json" 2>"$dir/replay.log" ||
    { tail -5 "$dir/replay.log" >&2; exit 1; }
done

python3 - "$work" <<'PY'
import json, pathlib, sys
runs, total = [], {"workload_hours": 0.0, "diagnoses": 0, "confident": 0, "sla_violation_minutes": 0.0}
for run in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    twin = json.loads((run / "twin/report.json").read_text())
    replay = json.loads((run / "replay.json").read_text())
    diagnoses = replay["diagnoses"]
    line = {
        "run": run.name,
        "lines": replay["inputs"],
        "workload_hours": twin["minutes"] / 60,
        "sla_violation_minutes": twin["sla_violation_minutes"],
        "diagnoses": len(diagnoses),
        "confident": sum(not d["uncertain"] for d in diagnoses),
        "faults": sorted({f'{d["target"]}: {d["fault"]}' for d in diagnoses}),
    }
    print(json.dumps(line))
    for key in total:
        total[key] += line[key]
total["per_workload_hour"] = total["diagnoses"] / max(total["workload_hours"], 1e-9)
total["confident_per_workload_hour"] = total["confident"] / max(total["workload_hours"], 1e-9)
print(json.dumps(total))
PY
