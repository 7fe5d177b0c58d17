#!/usr/bin/env bash
# The main job: installs the pretrained encoder on first use (scripts/model-up.sh), then runs `medic demo`,
# the whole loop in one process on the bundled incident, with no external service.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/model-up.sh
exec cargo run --release -- demo "$@"
