#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium`) when missing: the replay report test renders the HTML
# report in it. Needs root for apt (as scripts/k8s-up.sh).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "chromium-up: installing Debian's chromium (the replay report test renders in it)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
