#!/usr/bin/env bash
# The Prometheus server the observer's metrics test scrapes its exporter with (testkit::prometheus starts
# one per test, on a port and storage of its own). Built once per version from the Go module proxy, with
# every service-discovery plugin left out (tag remove_all_sd: the test uses a static target), and cached
# under ~/.cache/medic/prometheus-<version>/.
#
#   scripts/prometheus-up.sh          build when missing, then print the binary's path
#   scripts/prometheus-up.sh --path   print the path only (builds nothing)
#
# MEDIC_PROMETHEUS_VERSION (default 3.16.0) picks the release; its Go module version is v0.<major><minor
# in two digits>.<patch> (3.16.0 → v0.316.0). Needs a Go toolchain of 1.25 or newer: /usr/local/go/bin/go
# when present (Debian's Go 1.19, which the test API server is built with, is too old), else `go`.
set -euo pipefail
version="${MEDIC_PROMETHEUS_VERSION:-3.16.0}"
home="$HOME/.cache/medic/prometheus-$version"
bin="$home/prometheus"
if [ "${1:-}" = "--path" ]; then
  echo "$bin"
  exit 0
fi
if [ ! -x "$bin" ]; then
  IFS=. read -r major minor patch <<<"$version"
  module="v0.$major$(printf '%02d' "$minor").$patch"
  go=/usr/local/go/bin/go
  [ -x "$go" ] || go=$(command -v go) || { echo "prometheus-up: a Go toolchain is needed" >&2; exit 1; }
  echo "prometheus-up: building Prometheus $version ($module) into $home" >&2
  rm -rf "$home/bin.partial"
  mkdir -p "$home"
  GOBIN="$home/bin.partial" GOFLAGS=-mod=mod "$go" install -tags remove_all_sd \
    "github.com/prometheus/prometheus/cmd/prometheus@$module" >&2
  mv "$home/bin.partial/prometheus" "$bin"
  rm -rf "$home/bin.partial"
fi
echo "$bin"
