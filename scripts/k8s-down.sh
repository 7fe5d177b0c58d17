#!/usr/bin/env bash
# Stops the test Kubernetes control plane started by scripts/k8s-up.sh, in reverse order (kube-apiserver
# first, then kube-controller-manager, kube-scheduler, and etcd last), and removes the etcd data dir, so the
# next k8s-up.sh starts from an empty cluster. The cached binaries, the test CA/keys/token (pki/) and the
# kubeconfig are kept, so a kubeconfig read earlier stays valid. Idempotent: does nothing when nothing runs.
#
# Usage: scripts/k8s-down.sh        (honours MEDIC_K8S_STATE, default /tmp/medic-k8s, like k8s-up.sh)
set -euo pipefail

STATE="${MEDIC_K8S_STATE:-/tmp/medic-k8s}"
RUN="$STATE/run"

log() { echo "k8s-down: $*" >&2; }

# Stops one component by its pid file: SIGTERM, up to 15 s grace, then SIGKILL. A pid whose command line
# does not mention the component (a recycled pid) is left alone.
stop() {
  local name=$1 pidfile="$RUN/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

for c in kube-apiserver kube-controller-manager kube-scheduler etcd; do
  stop "$c"
done

if [ -d "$STATE/etcd" ]; then
  rm -rf "$STATE/etcd"
  log "removed $STATE/etcd"
fi
