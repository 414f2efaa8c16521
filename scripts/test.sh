#!/usr/bin/env bash
# The test command. `scripts/test.sh` is the whole suite, as CI runs it (`make test`);
# `scripts/test.sh fast` leaves out everything marked slow: real pretrained models, Ray, vLLM, the browser and
# the end-to-end runs (`make test-fast`, for iterating). Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TOKENIZERS_PARALLELISM=false
PYTHON=${PYTHON:-.venv/bin/python}
SLOW=""
if [[ "${1:-}" == fast ]]; then
    shift
    SLOW="not slow and "
fi
# Two passes. First the tests that wait on subprocesses, servers and disk more than on the CPU, on parallel
# workers (one per core plus one keeps both cores busy). Then, alone and in order, the tests that must not
# share the machine: Ray clusters and vLLM engines (ports, memory, every core) and the tests that assert on
# wall-clock time. TEST_WORKERS=0 runs everything in one pass, in this process.
SERIAL="ray or vllm or timing"
WORKERS=${TEST_WORKERS:-$(( $(nproc) + 1 ))}
if [[ "$WORKERS" == 0 ]]; then
    exec "$PYTHON" -m pytest -q ${SLOW:+-m "${SLOW% and }"} "$@"
fi
status=0
"$PYTHON" -m pytest -q -n "$WORKERS" -m "${SLOW}not ($SERIAL)" "$@" || status=$?
"$PYTHON" -m pytest -q -m "${SLOW}($SERIAL)" "$@" || { code=$?; [[ $code == 5 ]] || status=$code; }  # 5: none selected
exit $status
