"""`mtbench run`: download, answers, judge, show (and report), each step the separate command's own function.

Nothing here re-implements a step: the data comes from ``download_mt_bench``, the answers from
``gen_model_answers`` or ``generate_api_answers``, the judgments from ``gen_judgment.judge``, the tables
from ``show_result.show`` and the page from ``report.write_report``. Each of them resumes from its files,
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
from mtbench.gen_api_answer import ApiAnswerConfig, generate_api_answers
from mtbench.gen_judgment import check_budget, judge
from mtbench.gen_model_answer import check_model_location, gen_model_answers
from mtbench.pipeline.config import RunConfig
from mtbench.pipeline.planning import RunPlan, missing_data, plan_run
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


class _Steps:
    """Numbers the step lines: "[2/4] answers: ..."."""

    def __init__(self, config: RunConfig, announce: Announce):
        self.names = ("download", "answers", "judge", "show") + (("report",) if config.report else ())
        self.announce = announce

    def line(self, name: str, text: str) -> None:
        self.announce(f"[{self.names.index(name) + 1}/{len(self.names)}] {name}: {text}")


def check_inputs(config: RunConfig) -> None:
    """What can be refused from the flags and the model folder alone, before any step (one-line UserError)."""
    if not isinstance(config.answers, ApiAnswerConfig):
        for run in config.answers.runs:
            check_model_location(run.model)


def run_pipeline(config: RunConfig, announce: Announce = print) -> RunOutcome:
    """The whole evaluation; see the module docstring. ``announce`` gets the plan and one line per step.

    Every file the run writes is held before its plan is made or shown, as the separate commands do: a
    run refused by another writer says so in one line, before anything else (the steps' own locks are
    then this process's already).
    """
    check_inputs(config)
    with contextlib.ExitStack() as held:
        if not config.dry_run:
            hold_outputs(held, (*config.answer_files, config.judge.output), "run")
        return _run_steps(config, announce)


def _run_steps(config: RunConfig, announce: Announce) -> RunOutcome:
    steps = _Steps(config, announce)
    missing = missing_data(config)
    if missing and config.dry_run:
        plan = RunPlan(missing)
        announce(plan.describe())
        return RunOutcome(0, plan)
    _download(config, steps, missing)
    plan = plan_run(config)
    announce(plan.describe())
    if plan.judge is not None:
        check_budget(plan.judge, dry_run=config.dry_run)
    if config.dry_run:
        announce("dry run: nothing was generated, judged or written")
        return RunOutcome(0, plan)
    if plan.judge is not None and plan.judge.api_calls and config.judge.local is None:
        config.judge.endpoint.api_key()  # a judge without its key is refused before the answers, not after

    code, answered = _answers(config, steps)
    if not answered:
        return RunOutcome(code, plan, answer_files=config.answer_files)
    config = config.narrowed_to(answered)
    judge_config = config.judge
    summary = judge(judge_config, announce=_judge_announcer(steps, plan))
    steps.line("judge", summary.describe() if summary is not None
               else f"nothing to judge: every match is already in {judge_config.output}")
    tables = show(config.show)
    steps.line("show", f"the tables of {config.show.judgment_file} (below)")
    report_file = None
    if config.report is not None:
        from mtbench.report import write_report

        report_file = write_report(config.report)
        steps.line("report", f"wrote {report_file} ({report_file.stat().st_size / 1e6:.1f} MB)")
    return RunOutcome(code, plan, tables, config.answer_files, judge_config.output, report_file)


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


def _answers(config: RunConfig, steps: _Steps) -> tuple[int, tuple[str, ...]]:
    """Run the answer step: its exit code, and the models that have answers to judge."""
    answers = config.answers
    if isinstance(answers, ApiAnswerConfig):
        s = generate_api_answers(answers)  # a run that cannot finish raises: nothing after it can run
        asked = s.answered + len(s.failed)
        if not asked:
            steps.line("answers", f"{answers.model_id}: all {s.selected} question(s) already answered in {s.answer_file}")
        else:
            steps.line("answers", f"{answers.model_id}: {s.answered} answered, {len(s.failed)} failed "
                       f"({s.skipped} already there) in {s.elapsed_s:.1f}s; tokens: {s.prompt_tokens} prompt, "
                       f"{s.completion_tokens} completion -> {s.answer_file}"
                       + ("; rerun with --retry-failed to ask the failed ones again" if s.failed else ""))
        return 0, (answers.model_id,)
    outcomes = gen_model_answers(answers)
    if len(outcomes) == 1:
        outcomes[0].result()  # one model: its error is the run's
    for outcome in outcomes:
        g = outcome.summary
        if outcome.error is not None:
            steps.line("answers", f"{outcome.model_id}: error: {outcome.error}")
        elif g is not None and not g.written:
            steps.line("answers", f"{outcome.model_id}: all {g.selected} question(s) already answered in {g.answer_file}")
        elif g is not None:
            steps.line("answers", f"{outcome.model_id}: {g.written - g.failed} answered, {g.failed} failed "
                       f"({g.skipped} already there) on {g.replicas} replica(s) -> {g.answer_file}"
                       + ("; rerun with --retry-failed to redo the failed ones" if g.failed else ""))
    return max(o.exit_code for o in outcomes), tuple(o.model_id for o in outcomes if o.error is None)


def _judge_announcer(steps: _Steps, plan: RunPlan) -> Announce:
    """The judge announces its plan again, made exactly now that the answers exist: shown only where it
    differs from the run's (the run's was an estimate), and its other news as it comes."""
    planned = plan.judge.describe() if plan.judge is not None else None

    def announce(text: str) -> None:
        if text == planned or text.startswith("nothing to judge"):  # the step's own line says so
            return
        if planned is not None and text.startswith("judge:"):
            steps.announce("judge plan, now that the answers exist:")
            text = "\n".join(f"  {line}" for line in text.splitlines())
        steps.announce(text)

    return announce
