#!/usr/bin/env bash
# KWOK (sigs.k8s.io/kwok), the simulated kubelets of the test API server: it plays every Node annotated
# `kwok.x-k8s.io/node=fake` — its status Ready and a Lease renewed as a kubelet's — and the pods bound to
# it: Running and Ready (with pod and host IPs) once scheduled, removed once deleted (evictions and drains
# included). scripts/k8s-up.sh starts it with the control plane; this script builds it once per version
# from the Go module proxy into ~/.cache/medic/kwok-<version>/ (about 1.5 minutes on 2 cores; the build's
# module and build caches are removed after it) and prints the binary's path.
#
#   scripts/kwok-up.sh          build when missing, then print the binary's path
#   scripts/kwok-up.sh --path   print the path only (builds nothing)
#
# Next to the binary, stages.yaml holds the lifecycle KWOK plays, taken from that version's own stage
# sets: node `fast` (initialise Ready) and `heartbeat-with-lease`, pod `fast` (ready, complete, delete —
# without the delays of the `general` set, so a test waits only for the API server).
# MEDIC_KWOK_VERSION picks the release (default 0.8.0). Needs a Go toolchain of 1.21 or newer (see
# go-install.sh).
set -euo pipefail
version="${MEDIC_KWOK_VERSION:-0.8.0}"
home="$HOME/.cache/medic/kwok-$version"
bin="$home/kwok"
die() { echo "kwok-up: ERROR: $*" >&2; exit 1; }
if [ "${1:-}" = "--path" ]; then
  echo "$bin"
  exit 0
fi
if [ ! -x "$bin" ] || [ ! -s "$home/stages.yaml" ]; then
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "MEDIC_KWOK_VERSION=$version is not MAJOR.MINOR.PATCH"
  # shellcheck source=go-install.sh
  . "$(dirname "$0")/go-install.sh"
  build="$home/build"
  trap 'remove_build "$build"' EXIT
  go_install "$build" "sigs.k8s.io/kwok/cmd/kwok@v$version" || die "building KWOK $version failed"
  stages="$build/mod/sigs.k8s.io/kwok@v$version/kustomize/stage"
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [ -s "$stages/$stage.yaml" ] || die "KWOK $version has no stage $stage"
    echo "---"
    cat "$stages/$stage.yaml"
  done >"$home/stages.yaml.new"
  mv "$build/bin/kwok" "$bin"
  mv "$home/stages.yaml.new" "$home/stages.yaml"
fi
echo "$bin"
