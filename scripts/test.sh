#!/usr/bin/env bash
# The test command: starts the test broker (installing it on first use) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/kafka-up.sh
cargo test --workspace "$@"
