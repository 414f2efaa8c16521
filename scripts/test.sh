#!/usr/bin/env bash
# The test command: the whole suite, as CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
