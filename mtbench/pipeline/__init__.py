"""`mtbench run`: the whole evaluation in one command, through the separate commands' own functions.

``sources`` (``AnswerSource``: where the answers come from, a local engine or an endpoint), ``config``
(``RunConfig``: the steps' configs, narrowed to the run's models), ``planning`` (what is left
to do and what the judging costs, before anything runs), ``steps`` (``run_pipeline``).
"""

from mtbench.pipeline.config import RunConfig
from mtbench.pipeline.planning import RunPlan, plan_run
from mtbench.pipeline.sources import AnswerPlan, AnswerSource, AnswerStep, ModelAnswers, answer_source
from mtbench.pipeline.steps import RunOutcome, run_pipeline

__all__ = ["AnswerPlan", "AnswerSource", "AnswerStep", "ModelAnswers", "RunConfig", "RunOutcome", "RunPlan",
           "answer_source", "plan_run", "run_pipeline"]
