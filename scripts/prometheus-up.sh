#!/usr/bin/env bash
# The Prometheus server the observer's metrics test scrapes its exporters with (testkit::prometheus
# starts one per test, on a port and storage of its own). Built once per version from the Go module proxy,
# with every service-discovery plugin left out (tag remove_all_sd: the test uses static targets), and
# cached under ~/.cache/medic/prometheus-<version>/ (the build's module and build caches are removed
# after it: about 2 minutes on 2 cores).
#
#   scripts/prometheus-up.sh          build when missing, then print the binary's path
#   scripts/prometheus-up.sh --path   print the path only (builds nothing)
#
# MEDIC_PROMETHEUS_VERSION (default 3.16.0, as MAJOR.MINOR.PATCH) picks the release; its Go module version
# is v0.<major><minor in two digits>.<patch> (3.16.0 → v0.316.0). Needs a Go toolchain of 1.21 or newer
# (see go-install.sh): the module asks for Go 1.26.7, which an older 1.2x fetches from the proxy itself.
set -euo pipefail
version="${MEDIC_PROMETHEUS_VERSION:-3.16.0}"
home="$HOME/.cache/medic/prometheus-$version"
bin="$home/prometheus"
die() { echo "prometheus-up: ERROR: $*" >&2; exit 1; }
if [ "${1:-}" = "--path" ]; then
  echo "$bin"
  exit 0
fi
if [ ! -x "$bin" ]; then
  [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "MEDIC_PROMETHEUS_VERSION=$version is not MAJOR.MINOR.PATCH"
  module="v0.${BASH_REMATCH[1]}$(printf '%02d' "${BASH_REMATCH[2]}").${BASH_REMATCH[3]}"
  # shellcheck source=go-install.sh
  . "$(dirname "$0")/go-install.sh"
  build="$home/build"
  trap 'remove_build "$build"' EXIT
  go_install "$build" "github.com/prometheus/prometheus/cmd/prometheus@$module" -tags remove_all_sd ||
    die "building Prometheus $version failed"
  mv "$build/bin/prometheus" "$bin"
fi
echo "$bin"
