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
# Workers: most of the suite waits on subprocesses, servers and disk rather than on the CPU, so one worker
# per core plus one keeps both cores busy; --dist loadgroup keeps each xdist_group (tests/conftest.py) on
# one worker. Tests marked timing assert on wall-clock time, so they run afterwards, alone.
# TEST_WORKERS=0 runs everything in this process.
WORKERS=${TEST_WORKERS:-$(( $(nproc) + 1 ))}
if [[ "$WORKERS" == 0 ]]; then
    exec "$PYTHON" -m pytest -q ${SLOW:+-m "${SLOW% and }"} "$@"
fi
status=0
"$PYTHON" -m pytest -q -n "$WORKERS" --dist loadgroup -m "${SLOW}not timing" "$@" || status=$?
"$PYTHON" -m pytest -q -m "${SLOW}timing" "$@" || { code=$?; [[ $code == 5 ]] || status=$code; }  # 5: none selected
exit $status
