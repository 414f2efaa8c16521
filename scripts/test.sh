#!/usr/bin/env bash
# The test command. `scripts/test.sh` is the whole suite, as CI runs it (`make test`);
# `scripts/test.sh fast` leaves out everything marked slow: real pretrained models, Ray, vLLM, the browser and
# the end-to-end runs (`make test-fast`, for iterating). Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TOKENIZERS_PARALLELISM=false
PYTHON=${PYTHON:-.venv/bin/python}
if [[ "${1:-}" == fast ]]; then
    shift
    exec "$PYTHON" -m pytest -q -m "not slow" "$@"
fi
exec "$PYTHON" -m pytest -q "$@"
