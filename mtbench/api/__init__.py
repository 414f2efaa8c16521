"""The Python API: ``import mtbench`` and call the commands as functions (see ``functions``).

``mtbench.evaluate``, ``mtbench.generate_answers``, ``mtbench.judge`` and ``mtbench.scores`` are these; the
results are ``results``' frozen values and the errors ``mtbench.core.errors``'. Modules: ``functions`` (the
four calls), ``options`` (keyword arguments -> the commands' configs), ``run_flags`` (`mtbench run`'s
flags -> its ``RunConfig``, for the command line and ``evaluate`` alike), ``results``.
"""

from mtbench.api.functions import evaluate, generate_answers, judge, scores
from mtbench.api.results import Answers, Evaluation, Files, Judged, Scores, Usage

__all__ = ["Answers", "Evaluation", "Files", "Judged", "Scores", "Usage", "evaluate", "generate_answers", "judge",
           "scores"]
