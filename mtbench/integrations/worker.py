"""``python -m mtbench.integrations.worker REQUEST.json RESULT.json``: one ``mtbench.evaluate`` in a fresh
process, for a training callback that must leave its trainer's memory (and GPU) alone.

REQUEST holds ``options`` (``evaluate``'s keyword arguments, JSON values), ``model_id`` and ``prefix``;
RESULT gets ``metrics`` (``Scores.metrics``), ``exit_code`` and ``cost``, or ``error``: the one line the
command line would print. Anything else (a crash) is a non-zero exit with its traceback on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def evaluate_request(request: dict) -> dict:
    from mtbench.api import evaluate
    from mtbench.core.errors import MTBenchError

    try:
        evaluation = evaluate(**request["options"])
    except MTBenchError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    if evaluation.scores is None:
        return {"error": f"no scores: the run ended with exit code {evaluation.exit_code}"}
    try:
        metrics = evaluation.scores.metrics(request["model_id"], request["prefix"])
    except MTBenchError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    return {"metrics": metrics, "exit_code": evaluation.exit_code, "cost": evaluation.usage.cost}


def main(argv: list[str]) -> int:
    request_file, result_file = map(Path, argv)
    result = evaluate_request(json.loads(request_file.read_text()))
    partial = result_file.with_suffix(".partial")
    partial.write_text(json.dumps(result))
    os.replace(partial, result_file)  # the caller reads a whole result or none
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
