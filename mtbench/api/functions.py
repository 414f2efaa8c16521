"""The commands as functions: ``evaluate`` (``mtbench run``), ``generate_answers``, ``judge``, ``scores``.

Each takes the command's config (or keyword arguments named as its flags, built into that config by
``options``), calls the library function the command calls, and returns a frozen result (``results``).
The command line is a thin layer over these: it builds the config from argv, calls the function with
``progress=True`` and ``announce=print``, and prints the result. Here nothing is printed unless asked:
progress bars are off (``progress=True`` leaves them to the configs), and what a command tells on stdout
(the plan, one line per step) goes to ``announce``, by default the ``mtbench`` logger at INFO.
Errors are the typed ones the command line prints as one line: ``ConfigError`` (a bad option, naming it),
``UserError`` (bad input), ``RunFailed`` (the run could not finish), all ``MTBenchError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.api.options import configure, run_config
from mtbench.api.results import Answers, Evaluation, Judged, Scores, Usage
from mtbench.core.options import ConfigError
from mtbench.core.progress import quiet

if TYPE_CHECKING:
    from mtbench.gen_api_answer import ApiAnswerConfig
    from mtbench.gen_judgment import JudgeConfig, JudgeEvent, JudgeSummary
    from mtbench.gen_judgment.jury import JuryPlanMade, JurySummary
    from mtbench.gen_model_answer import GenAnswerRuns
    from mtbench.gen_model_answer.config import GenAnswerJob
    from mtbench.pipeline import RunConfig
    from mtbench.show_result import ShowConfig, ShowReport

Announce = Callable[[str], None]
log = logging.getLogger("mtbench")


def _announce(announce: Announce | None) -> Announce:
    return announce if announce is not None else log.info


def _config(config: Any, options: Mapping[str, Any], kind: type, what: str) -> Any:
    if config is None:
        return configure(kind, options, what=what)
    if options:
        raise ConfigError(f"{next(iter(options))}: give a config or keyword options, not both")
    if not isinstance(config, kind):
        raise TypeError(f"{what} takes a {kind.__name__}, got {type(config).__name__}")
    return config


def evaluate(config: RunConfig | None = None, /, *, progress: bool = False, announce: Announce | None = None,
             **options: Any) -> Evaluation:
    """``mtbench run``: download what is missing, generate the answers, judge them, compute the tables.

    ``config``: a ``RunConfig``; or keyword arguments named as ``mtbench run``'s flags, e.g.
    ``evaluate(model_path="ckpt", judge_model="gpt-4o", judge_base_url=URL, per_category=2)``. Resumes
    from its files like the command. ``Evaluation.exit_code`` is the command's (1: a model's answers failed).
    """
    from mtbench.pipeline import RunConfig, run_pipeline

    if config is None:
        config = run_config(options)
    else:
        _config(config, options, RunConfig, "evaluate")
    with quiet(not progress):
        outcome = run_pipeline(config, announce=_announce(announce))
    return Evaluation.of(outcome, logged_scores(outcome.tables) if outcome.tables is not None else None)


AnswerConfig = "GenAnswerJob | GenAnswerConfig | GenAnswerRuns | ApiAnswerConfig"


def answers_config(config: Any, options: Mapping[str, Any]) -> GenAnswerRuns | ApiAnswerConfig:
    """The answer step's config: a local model's (``model_path``: gen-answer's options) or a served one's
    (``model`` and ``base_url``: gen-api-answer's)."""
    from mtbench.gen_api_answer import ApiAnswerConfig
    from mtbench.gen_model_answer import GenAnswerConfig, GenAnswerRuns
    from mtbench.gen_model_answer.config import GenAnswerJob

    if config is None:
        if "model_path" in options:
            return _local_job(options).runs()
        if "model" in options:
            return configure(ApiAnswerConfig, options, what="generate_answers (gen-api-answer's options)")
        raise ConfigError("{model_path} (a local model) or {model} and {base_url} (a served one) is required")
    if options:
        raise ConfigError(f"{next(iter(options))}: give a config or keyword options, not both")
    if isinstance(config, GenAnswerJob):
        return config.runs()
    if isinstance(config, GenAnswerConfig):
        return GenAnswerRuns((config,))
    if isinstance(config, (GenAnswerRuns, ApiAnswerConfig)):
        return config
    raise TypeError(f"generate_answers takes one of {AnswerConfig}, got {type(config).__name__}")


def _local_job(options: Mapping[str, Any]) -> GenAnswerJob:
    from mtbench.api.run_flags import default_local_id
    from mtbench.gen_model_answer.config import GenAnswerJob

    given = dict(options)
    paths = given["model_path"]
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if "model_id" not in given:
        given["model_id"] = [default_local_id(str(p), given.get("gguf_file")) for p in paths]
    return configure(GenAnswerJob, {**given, "model_path": [str(p) for p in paths]},
                     what="generate_answers (gen-answer's options)")


def generate_answers(config: Any = None, /, *, progress: bool = False, **options: Any) -> Answers:
    """Answers for MT-bench's questions, appended to DATA/BENCH/model_answer/MODEL_ID.jsonl (resumable).

    ``config``: gen-answer's (``GenAnswerJob``, ``GenAnswerConfig``, ``GenAnswerRuns``) or gen-api-answer's
    (``ApiAnswerConfig``); or keyword arguments named as those commands' flags: ``model_path=...`` for a
    local model (``model_id`` defaults to its folder's name), ``model=..., base_url=...`` for a served one.
    A model whose answers failed is in ``Answers.models`` with its error (one model alone: raised).
    """
    from mtbench.pipeline.sources import answer_source

    source = answer_source(answers_config(config, options))
    with quiet(not progress):
        step = source.run()
    return Answers.of(step, source.answer_files)


def judge(config: JudgeConfig | None = None, /, *, progress: bool = False, announce: Announce | None = None,
          on_event: Callable[[JudgeEvent | JuryPlanMade], None] | None = None, **options: Any) -> Judged:
    """``mtbench judge``: grade the answers, appending to the judge's judgment file (resumable).

    ``config``: a ``JudgeConfig``; or keyword arguments named as ``mtbench judge``'s flags
    (``judge_model``, ``judge_base_url``, ``mode``, ``model_list``, ``parallel``, ``dry_run``, ...). The plan
    and the judge's news go to ``on_event`` as typed values where given, else to ``announce`` as text.
    A dry run plans, tells and returns ``Judged`` with no summary.
    """
    from mtbench.core.options import check
    from mtbench.gen_judgment import JudgeConfig
    from mtbench.gen_judgment import judge as run_judge
    from mtbench.gen_judgment.jury import judge_jury
    from mtbench.protocols import protocol_for

    config = _config(config, options, JudgeConfig, "judge")
    protocol = protocol_for(config.layout)  # a bench with a protocol of its own (MT-Bench-101) judges its way
    summary: JudgeSummary | JurySummary | None
    with quiet(not progress):
        if protocol is not None:
            check(not config.is_jury, f"a jury (several {{judge_models}}, or {{jury_file}}) judges MT-bench; "
                  f"{config.layout.bench_name} takes one judge per run")
            summary = protocol.judge(config, dry_run=config.dry_run, announce=_announce(announce),
                                     on_event=on_event)
        elif config.is_jury:
            summary = judge_jury(config, dry_run=config.dry_run, announce=_announce(announce), on_event=on_event)
        else:
            summary = run_judge(config, dry_run=config.dry_run, announce=_announce(announce), on_event=on_event)
    return Judged(config.output, summary, Usage.of_judge(summary))


def scores(config: ShowConfig | None = None, /, **options: Any) -> Scores:
    """``mtbench show``'s tables from the judgment file: ``config`` a ``ShowConfig``, or keyword arguments
    named as ``mtbench show``'s flags (``judge_model``, ``mode``, ``model_list``, ``data_dir``, ...)."""
    from mtbench.core.errors import UserError
    from mtbench.protocols import protocol_for
    from mtbench.show_result import ShowConfig, show

    config = _config(config, options, ShowConfig, "scores")
    if protocol_for(config.layout) is not None:
        raise UserError(f"{config.layout.bench_name}: its scores are `mtbench show`'s text only, not tables yet")
    return logged_scores(show(config))


def logged_scores(report: ShowReport) -> Scores:
    """``report``'s tables, logged first to the trackers its config names (``--log-to``)."""
    if not report.config.tracking.log_to:
        return Scores.of(report)
    from mtbench.integrations.trackers import log_results

    return Scores.of(report, log_results(report, config=report.config.tracking))
