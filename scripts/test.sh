#!/usr/bin/env bash
# The test command: starts the test broker, installs the pretrained encoder, starts (building once) the
# test Kubernetes API server and fetches the two kubectl builds deploy/ is rendered with, each on first
# use, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/kafka-up.sh
./scripts/model-up.sh
./scripts/k8s-up.sh >/dev/null
./scripts/kubectl-up.sh >/dev/null
cargo test --workspace "$@"
