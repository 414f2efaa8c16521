"""`mtbench run`: the whole evaluation in one command, through the separate commands' own functions.

``config`` (``RunConfig``: the steps' configs, narrowed to the run's models), ``planning`` (what is left
to do and what the judging costs, before anything runs), ``steps`` (``run_pipeline``).
"""

from mtbench.pipeline.config import RunConfig
from mtbench.pipeline.planning import AnswerPlan, RunPlan, plan_run
from mtbench.pipeline.steps import RunOutcome, run_pipeline

__all__ = ["AnswerPlan", "RunConfig", "RunOutcome", "RunPlan", "plan_run", "run_pipeline"]
