#!/usr/bin/env bash
# The test command: starts the test broker, installs the pretrained encoder, starts (building once) the
# test Kubernetes API server with its simulated kubelets (KWOK), fetches the two kubectl builds deploy/ is
# rendered with, builds (once) the Prometheus server the observer's metrics test scrapes with, and
# installs headless Chromium (the replay report is rendered in it), each on first use, then runs every
# test (including those a plain `cargo test` leaves out because they need these).
set -euo pipefail
cd "$(dirname "$0")/.."
# Arguments are cargo's; test-binary arguments go after `--`, as with cargo.
args=("$@")
cargo_args=()
prebuild=1
for arg in ${args[@]+"${args[@]}"}; do
  [ "$arg" = "--" ] && break
  # (doc-tests only, or nothing run: no test binaries to build ahead)
  [[ "$arg" == --doc || "$arg" == --no-run ]] && prebuild=0
  cargo_args+=("$arg")
done

# The tests are compiled while the services are fetched, built and started: on a fresh machine both take
# minutes, the downloads mostly wait on the network, and the Go builds run at low priority (nice 10), so
# they take the cores the compiler leaves idle. The set-up steps stay one after another (two of them use
# apt). The build runs in a process group of its own, so a failed set-up stops the compiler with it.
build=
if [ "$prebuild" = 1 ]; then
  setsid cargo test --workspace --no-run ${cargo_args[@]+"${cargo_args[@]}"} &
  build=$!
  trap 'kill -- -"$build" 2>/dev/null || true' EXIT
fi
./scripts/kafka-up.sh
./scripts/model-up.sh
./scripts/k8s-up.sh >/dev/null
./scripts/kubectl-up.sh >/dev/null
./scripts/prometheus-up.sh >/dev/null
./scripts/chromium-up.sh
if [ -n "$build" ]; then
  wait "$build" || { echo "test: building the tests failed" >&2; exit 1; }
fi
trap - EXIT

# Tests that need these services are #[ignore]d in a plain `cargo test` (which says so for each); here
# they run too.
if [[ " ${args[*]-} " == *" -- "* ]]; then
  # The caller's test-binary arguments follow their `--`; `--ignored` there runs only the ignored ones.
  extra=(--include-ignored)
  [[ " ${args[*]} " == *" --ignored "* ]] && extra=()
  cargo test --workspace "${args[@]}" ${extra[@]+"${extra[@]}"}
else
  cargo test --workspace ${args[@]+"${args[@]}"} -- --include-ignored
fi
