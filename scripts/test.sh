#!/usr/bin/env bash
# The test command, in three sizes:
#   scripts/test.sh        everything but the tests marked heavy: what CI runs (`make test`);
#   scripts/test.sh all    everything (`make test-all`): before a release, or after touching Ray, vLLM or resuming;
#   scripts/test.sh fast   the tests not marked slow (`make test-fast`): no real pretrained model, Ray, vLLM, browser,
#                          end-to-end run or test of seconds (most start processes); 1.5 min on 2 cores, for iterating.
# Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE=disabled TOKENIZERS_PARALLELISM=false
# Let Python cache what it compiles: make setup installs the libraries compiled, but mtbench and the tests
# themselves (and a venv installed without bytecode) would otherwise be compiled again in every worker and
# every `mtbench` child process wherever PYTHONDONTWRITEBYTECODE is set, as on this project's machines.
unset PYTHONDONTWRITEBYTECODE
PYTHON=${PYTHON:-.venv/bin/python}
case "${1:-}" in
    all) shift; LEAVE_OUT="" ;;
    fast) shift; LEAVE_OUT="not slow and " ;;
    *) LEAVE_OUT="not heavy and " ;;
esac
# Two passes. First the tests that wait on subprocesses, servers and disk more than on the CPU, on parallel
# workers (one per core plus one keeps both cores busy). Then, alone and in order, the tests that must not
# share the machine: Ray clusters and vLLM engines (ports, memory, every core) and the tests that assert on
# wall-clock time. TEST_WORKERS=0 runs everything in one pass, in this process.
SERIAL="ray or vllm or timing"
WORKERS=${TEST_WORKERS:-$(( $(nproc) + 1 ))}
if [[ "$WORKERS" == 0 ]]; then
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} exec "$PYTHON" -m pytest -q ${LEAVE_OUT:+-m "${LEAVE_OUT% and }"} "$@"
fi
status=0
# Torch's threads: one per worker in the parallel pass (the workers already fill the cores; two threads each
# oversubscribe them, and the models' tests took a quarter longer), two in the serial one.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$PYTHON" -m pytest -q -n "$WORKERS" -m "${LEAVE_OUT}not ($SERIAL)" "$@" || status=$?
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$PYTHON" -m pytest -q -m "${LEAVE_OUT}($SERIAL)" "$@" || { code=$?; [[ $code == 5 ]] || status=$code; }  # 5: none selected
exit $status
