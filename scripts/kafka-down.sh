#!/usr/bin/env bash
# Stops the test broker started by scripts/kafka-up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .medic/tansu.pid ]; then
  kill "$(cat .medic/tansu.pid)" 2>/dev/null || true
  rm -f .medic/tansu.pid
  echo "kafka-down: stopped"
fi
