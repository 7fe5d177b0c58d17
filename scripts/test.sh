#!/usr/bin/env bash
# The test command: starts the test broker, installs the pretrained encoder, starts (building once) the
# test Kubernetes API server, fetches the two kubectl builds deploy/ is rendered with and installs headless
# Chromium (the replay report is rendered in it), each on first
# use, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/kafka-up.sh
./scripts/model-up.sh
./scripts/k8s-up.sh >/dev/null
./scripts/kubectl-up.sh >/dev/null
./scripts/chromium-up.sh
cargo test --workspace "$@"
