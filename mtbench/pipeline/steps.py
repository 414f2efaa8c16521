"""`mtbench run`: download, answers, judge, show (and report), each step the separate command's own function.

Nothing here re-implements a step: the data comes from ``download_mt_bench``, the answers from the
answer source (``sources``: ``gen_model_answers`` or ``generate_api_answers``), the judgments from
``gen_judgment.judge``, the tables from ``show_result.show`` and the page from ``report.write_report``.
Each step hands back typed values (``AnswerStep``, ``JudgeEvent``, ``JudgeSummary``) that the run reads. Each of them resumes from its files,
so a run killed in any step, run again, redoes nothing that is on disk, and a finished run run again
calls nothing and shows its tables. The plan (``planning``) is announced before the first step that
costs anything; ``--max-cost`` refuses it there (exit 2), before any call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.jsonl import hold_outputs
from mtbench.core.options import check, fields_within
from mtbench.gen_judgment import JudgeEvent, JudgeSummary, NothingToJudge, PlanMade, check_budget, judge
from mtbench.gen_judgment.jury import JuryPlan, JuryPlanMade, JurySummary, check_jury_budget, judge_jury
from mtbench.pipeline.config import RunConfig
from mtbench.pipeline.planning import RunPlan, missing_data, plan_run
from mtbench.pipeline.sources import AnswerStep
from mtbench.protocols import refuse_protocol
from mtbench.show_result import ShowReport, show

Announce = Callable[[str], None]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its exit code (the worst step's), its plan, the tables, and where its files are."""

    exit_code: int
    plan: RunPlan
    tables: ShowReport | None = None
    answer_files: tuple[Path, ...] = ()
    judgment_file: Path | None = None
    report_file: Path | None = None
    answers: AnswerStep | None = None  # what the answer step did, per model (None: it did not run)
    judged: JudgeSummary | JurySummary | None = None  # what the judge step did (None: not run, or nothing to judge)
    shown: str | None = None  # a bench protocol's tables (MT-Bench-101), rendered as show renders them


class _Steps:
    """Numbers the step lines: "[2/4] answers: ..."."""

    def __init__(self, config: RunConfig, announce: Announce):
        self.names = ("download", "answers", "judge", "show") + (("report",) if config.report else ())
        self.announce = announce

    def line(self, name: str, text: str) -> None:
        self.announce(f"[{self.names.index(name) + 1}/{len(self.names)}] {name}: {text}")


def check_inputs(config: RunConfig) -> None:
    """What can be refused from the flags and the model folder alone, before any step (one-line UserError)."""
    config.source.check_inputs()


def run_pipeline(config: RunConfig, announce: Announce = print) -> RunOutcome:
    """The whole evaluation; see the module docstring. ``announce`` gets the plan and one line per step.

    Every file the run writes is held before its plan is made or shown, as the separate commands do: a
    run refused by another writer says so in one line, before anything else (the steps' own locks are
    then this process's already).
    """
    check_inputs(config)
    with contextlib.ExitStack() as held:
        if not config.dry_run:
            hold_outputs(held, (*config.answer_files, *(j.output for j in config.judge.jurors())), "run")
        return _run_steps(config, announce)


def _run_steps(config: RunConfig, announce: Announce) -> RunOutcome:
    steps = _Steps(config, announce)
    missing = missing_data(config)
    if missing and config.dry_run:
        plan = RunPlan(missing)
        announce(plan.describe())
        return RunOutcome(0, plan)
    with fields_within("download"):
        _download(config, steps, missing)
    with fields_within("judge"):  # the plan's problems are the judge's inputs and budget
        plan = plan_run(config)
    protocol = plan.protocol
    if protocol is not None:  # what only MT-bench's tables have, refused before any call
        name = config.layout.bench_name
        with fields_within("show"):
            check(not config.show.tracking.log_to, f"{{tracking.log_to}} is not available for {name} yet")
        if config.report is not None:
            refuse_protocol(protocol, config.layout, "report")
    with fields_within("judge"):
        announce(plan.describe())
        if isinstance(plan.judge, JuryPlan):
            check_jury_budget(plan.judge, dry_run=config.dry_run)
        elif plan.judge is not None:
            check_budget(plan.judge, dry_run=config.dry_run)
    if config.dry_run:
        announce("dry run: nothing was generated, judged or written")
        return RunOutcome(0, plan)
    if plan.judge is not None and plan.judge.api_calls:
        for juror in config.judge.jurors():  # a judge without its key is refused before the answers, not after
            juror.backend().check_credentials()

    with fields_within(config.source.step):
        answers = config.source.run()
    for model in answers.models:
        steps.line("answers", model.describe())
    if not answers.answered:
        return RunOutcome(answers.exit_code, plan, answer_files=config.answer_files, answers=answers)
    config = config.narrowed_to(answers.answered)
    judge_config = config.judge
    with fields_within("judge"):
        news = _judge_news(steps, plan)
        summary: JudgeSummary | JurySummary | None
        if protocol is not None:  # the bench's own matches, on the same runner
            summary = protocol.judge(judge_config, dry_run=False, announce=announce, on_event=news)
        elif judge_config.is_jury:
            summary = judge_jury(judge_config, on_event=news)
        else:
            summary = judge(judge_config, on_event=news)
    steps.line("judge", summary.describe() if summary is not None
               else f"nothing to judge: every match is already in {judge_config.output}")
    if summary is not None:
        with fields_within("judge"):  # the issue-24 case: 158 of 160 replies without a verdict is not a score
            summary.check_failure_rate(judge_config.max_failure_rate, judge_config.judge_model)
    tables, shown = None, None
    with fields_within("show"):
        if protocol is not None:
            shown = protocol.show(config.show)
        else:
            tables = show(config.show)
    steps.line("show", f"the tables of {config.show.judgments} (below)")
    report_file = None
    if config.report is not None:
        from mtbench.report import write_report

        with fields_within("report"):
            report_file = write_report(config.report)
        steps.line("report", f"wrote {report_file} ({report_file.stat().st_size / 1e6:.1f} MB)")
    return RunOutcome(answers.exit_code, plan, tables, config.answer_files, judge_config.output, report_file,
                      answers, summary, shown)


def _download(config: RunConfig, steps: _Steps, missing: tuple[Path, ...]) -> None:
    data_dir = config.layout.data_dir
    if not missing:
        steps.line("download", f"every data file is in {data_dir}")
        return
    from mtbench.download import download_mt_bench

    outcomes = download_mt_bench(config.download)
    fetched = [o for o in outcomes if o.fetched]
    sources = sorted({str(o.source) for o in fetched})
    steps.line("download", f"fetched {len(fetched)} file(s) into {data_dir} from {', '.join(sources)}, sha256 verified")


def _judge_news(steps: _Steps, plan: RunPlan) -> Callable[[JudgeEvent | JuryPlanMade], None]:
    """The judge's news as the run tells it: its plan again, made exactly now that the answers exist, only
    where it differs from the run's (the run's was an estimate); not "nothing to judge" (the step's own
    line says so); the rest as it comes."""
    planned = plan.judge.describe() if plan.judge is not None else None

    def tell(event: JudgeEvent | JuryPlanMade) -> None:
        if isinstance(event, NothingToJudge):
            return
        text = event.describe()
        if isinstance(event, PlanMade | JuryPlanMade) and planned is not None:
            if text == planned:
                return
            steps.announce("judge plan, now that the answers exist:")
            text = "\n".join(f"  {line}" for line in text.splitlines())
        steps.announce(text)

    return tell
