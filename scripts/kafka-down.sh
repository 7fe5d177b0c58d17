#!/usr/bin/env bash
# Stops the test broker started by scripts/kafka-up.sh (SIGTERM: a controlled shutdown), waiting for it;
# also a Tansu broker an older kafka-up.sh left running.
set -euo pipefail
cd "$(dirname "$0")/.."
# Signals `pid` only while it still is the process its pid file named (a pid can be reused after a crash).
stop() {
  local pidfile=$1 pattern=$2 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if grep -qa -- "$pattern" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka-down: stopped"
  fi
  rm -f "$pidfile"
}
stop "${MEDIC_KAFKA_DIR:-.medic/kafka}/pid" kafka.Kafka
stop .medic/tansu.pid tansu
