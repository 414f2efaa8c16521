"""LLM-as-a-judge for MT-bench: FastChat's prompts and verdicts, resumable runs, one plan and cost up front.

Prompts, regexes and match contents are FastChat's (``fastchat/llm_judge``), so a judgment made here is the
judgment FastChat would have asked for, byte for byte. What differs is deliberate:

- failures are values (score None / winner "error" with an ``error`` reason), never ``-1`` or ``$ERROR$``;
  a call that never got an answer (connection, timeout, 5xx after every retry) is not recorded at all,
  so a plain rerun judges it;
- answers that failed to generate (FastChat's ``ERROR``/``$ERROR$`` or our ``error`` field) are not judged;
- a rerun resumes: a match already on disk with the same judge and the same rendered prompt is skipped;
- the reference answers are chosen by name (``--reference``), not by the judge model's name;
- a score such as ``[[08]]`` parses as 8 (FastChat's ``ast.literal_eval`` raises on the leading zero);
- a reasoning judge is read from its final content only: its reasoning (inline ``<think>`` or the reply's
  reasoning field) is kept apart in ``judge_reasoning``, so a score it weighed while thinking is no verdict;
  one that refuses ``max_tokens`` or ``temperature`` is adapted to once per run and ``judge_params`` says
  what was sent (a judge with neither writes its records as it always did).

Who judges is one interface (``backend.JudgeBackend``): an endpoint (``ApiJudge``) or a model loaded in
this process (``LocalJudgeBackend``, ``--judge-model-path``; ``local``), so the rest is shared;
``--force-verdict`` reads a local judge's most probable verdict where its reply has none (``forced``).

Modules: ``verdicts`` (reading replies), ``prompts`` (choosing and rendering), ``matches`` (what is judged,
resume), ``plan`` (config, inputs, cost), ``failures`` and ``results`` (records, summary), ``local`` and
``forced`` (a local judge), ``backend`` (who judges), ``runner`` (the live run and its events), ``batch``,
``jury`` (several judges in one run, each its own file; the jury file is ``mtbench.core.jury_file``).
"""

from mtbench.gen_judgment.backend import ApiJudge, JudgeBackend, LocalJudgeBackend
from mtbench.gen_judgment.config import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, JudgeConfig
from mtbench.gen_judgment.failures import failure_kind, is_transport_failure, kept_as_done
from mtbench.gen_judgment.matches import (
    Match,
    PairMatch,
    ResumeState,
    SingleMatch,
    Skip,
    build_matches,
    resume,
)
from mtbench.gen_judgment.plan import (
    JudgePlan,
    JudgeWork,
    check_budget,
    load_work,
    plan_for,
    plan_judging,
)
from mtbench.gen_judgment.prompts import (
    PAIR_PROMPTS,
    SINGLE_PROMPTS,
    judge_messages,
    needs_reference,
    prompt_name,
    render_pair,
    render_single,
)
from mtbench.gen_judgment.results import JudgeSummary, pair_record, single_record
from mtbench.gen_judgment.runner import (
    BatchesResumed,
    JudgeEvent,
    NothingToJudge,
    PlanMade,
    judge,
    run_judging,
)
from mtbench.gen_judgment.verdicts import game_winner, parse_rating, parse_verdict

__all__ = [
    "DEFAULT_MAX_TOKENS", "DEFAULT_TEMPERATURE", "PAIR_PROMPTS", "SINGLE_PROMPTS",
    "ApiJudge", "BatchesResumed", "JudgeBackend", "JudgeConfig", "JudgeEvent", "JudgePlan", "JudgeSummary",
    "JudgeWork", "LocalJudgeBackend", "Match", "NothingToJudge", "PairMatch", "PlanMade", "ResumeState",
    "SingleMatch", "Skip", "build_matches", "check_budget", "failure_kind", "game_winner", "is_transport_failure",
    "judge", "judge_messages", "kept_as_done", "load_work", "needs_reference", "pair_record", "parse_rating",
    "parse_verdict", "plan_for", "plan_judging", "prompt_name", "render_pair", "render_single", "resume",
    "run_judging", "single_record",
]
