#!/usr/bin/env bash
# Stops the test Kubernetes control plane started by scripts/k8s-up.sh, in reverse order (KWOK's simulated
# kubelets, then kube-apiserver, kube-controller-manager, kube-scheduler, and etcd last), and removes the etcd data dir, so the
# next k8s-up.sh starts from an empty cluster. The cached binaries, the test CA/keys/token (pki/) and the
# kubeconfig are kept, so a kubeconfig read earlier stays valid. Idempotent: does nothing when nothing runs.
#
# Usage: scripts/k8s-down.sh        (honours MEDIC_K8S_STATE, default /tmp/medic-k8s, like k8s-up.sh)
set -euo pipefail

STATE="${MEDIC_K8S_STATE:-/tmp/medic-k8s}"
RUN="$STATE/run"

log() { echo "k8s-down: $*" >&2; }

# shellcheck source=k8s-pids.sh
. "$(dirname "$0")/k8s-pids.sh"

# Waits up to $2 seconds for component $1 (pid $3) to exit after SIGTERM, then sends SIGKILL.
reap() {
  local name=$1 grace=$2 pid=$3
  for _ in $(seq 1 $((grace * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) still running ${grace}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  log "stopped $name (pid $pid)"
  rm -f "$RUN/$name.pid"
}

stop() {
  local pid
  pid=$(pid_of "$1")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    reap "$1" 15 "$pid"
  fi
  rm -f "$RUN/$1.pid"
}

stop kwok
# kube-apiserver next: SIGTERM makes it stop listening at once, but it then drains open watches for up
# to 60 s; those come mostly from the controller-manager and scheduler, so it is reaped after they stop.
api_pid=$(pid_of kube-apiserver)
[ -z "$api_pid" ] || kill -TERM "$api_pid" 2>/dev/null || true
stop kube-controller-manager
stop kube-scheduler
if [ -n "$api_pid" ]; then
  reap kube-apiserver 10 "$api_pid"
fi
rm -f "$RUN/kube-apiserver.pid"
stop etcd

if [ -d "$STATE/etcd" ]; then
  rm -rf "$STATE/etcd"
  log "removed $STATE/etcd"
fi
