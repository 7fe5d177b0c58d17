#!/usr/bin/env bash
# Stops the test broker started by scripts/kafka-up.sh (SIGTERM: a controlled shutdown), waiting for it.
set -euo pipefail
cd "$(dirname "$0")/.."
pidfile="${MEDIC_KAFKA_DIR:-.medic/kafka}/pid"
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka-down: stopped"
fi
