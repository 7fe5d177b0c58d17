#!/usr/bin/env bash
# The test command: starts the test broker, installs the pretrained encoder, starts (building once) the
# test Kubernetes API server with its simulated kubelets (KWOK), fetches the two kubectl builds deploy/ is
# rendered with, builds (once) the Prometheus server the observer's metrics test scrapes with, and
# installs headless Chromium (the replay report is rendered in it), each on first use, then runs every
# test (including those a plain `cargo test` leaves out because they need these).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/kafka-up.sh
./scripts/model-up.sh
./scripts/k8s-up.sh >/dev/null
./scripts/kubectl-up.sh >/dev/null
./scripts/prometheus-up.sh >/dev/null
./scripts/chromium-up.sh
# Tests that need these services are #[ignore]d in a plain `cargo test` (which says so for each); here
# they run too. Arguments are cargo's; test-binary arguments go after `--`, as with cargo.
args=("$@")
if [[ " ${args[*]-} " == *" -- "* ]]; then
  # The caller's test-binary arguments follow their `--`; `--ignored` there runs only the ignored ones.
  extra=(--include-ignored)
  [[ " ${args[*]} " == *" --ignored "* ]] && extra=()
  cargo test --workspace "${args[@]}" ${extra[@]+"${extra[@]}"}
else
  cargo test --workspace ${args[@]+"${args[@]}"} -- --include-ignored
fi
