#!/usr/bin/env bash
# The test command: starts the test broker and installs the pretrained encoder (each on first use), then
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/kafka-up.sh
./scripts/model-up.sh
cargo test --workspace "$@"
