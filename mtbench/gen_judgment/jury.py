"""A jury: several judges in one `mtbench judge` run, each writing its own judgment file.

Each judge is an ordinary judging run (``JudgeConfig.jurors``): its own file, lock, resume, plan and
backend (so its own connection pool, ``--parallel`` and rate-limit controller: judges on different
endpoints never wait for each other). What the jury adds is one plan and one cost estimate for all of
them, one ``--max-cost`` for the total, and the judges run side by side in one event loop. A judge that
fails (its endpoint down, its first match refused) stops alone: the others finish, and the run says which
failed and exits 1; a rerun resumes every judge where its file stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from mtbench.core.cost import format_usd
from mtbench.core.errors import RunFailed
from mtbench.core.options import ConfigError
from mtbench.core.records import exclusive_output
from mtbench.gen_judgment.config import JudgeConfig
from mtbench.gen_judgment.plan import JudgePlan, check_budget, load_work, plan_for
from mtbench.gen_judgment.results import JudgeSummary
from mtbench.gen_judgment.runner import JudgeEvent, NothingToJudge, judge, run_plan


@dataclass(frozen=True)
class JuryPlan:
    """Every judge's plan, and the jury's totals."""

    config: JudgeConfig
    plans: tuple[JudgePlan, ...]

    @property
    def api_calls(self) -> int:
        return sum(p.api_calls for p in self.plans)

    @property
    def estimated_cost(self) -> float | None:
        costs = [p.estimated_cost for p in self.plans if p.api_calls]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def todo(self) -> int:
        return sum(len(p.resume.todo) for p in self.plans)

    def describe(self) -> str:
        lines = [f"jury: {len(self.plans)} judges, each writing its own file"]
        for plan in self.plans:
            lines.append(f"- {plan.config.judge_model}:")
            lines += [f"    {line}" for line in plan.describe().splitlines()]
        unknown = [p.config.judge_model for p in self.plans if p.api_calls and p.estimated_cost is None]
        cost = format_usd(self.estimated_cost) + (f" (price unknown for {', '.join(unknown)})" if unknown else "")
        tokens_in = sum(p.input_tokens for p in self.plans)
        tokens_out = sum(p.output_tokens for p in self.plans)
        lines.append(f"jury total: {self.todo} match(es) to judge, {self.api_calls} calls, estimated tokens "
                     f"{tokens_in:,} in + {tokens_out:,} out, estimated cost {cost}")
        return "\n".join(lines)


def check_jury_budget(plan: JuryPlan, *, dry_run: bool = False) -> None:
    """``--max-cost`` holds for the whole jury (each judge's own estimate must be known)."""
    max_cost = plan.config.max_cost
    if max_cost is None or plan.api_calls == 0:
        return
    for p in plan.plans:
        if p.api_calls and p.estimated_cost is None:
            check_budget(p, dry_run=dry_run)  # names the judge whose price is unknown
    cost = plan.estimated_cost or 0.0
    if cost > max_cost:
        why = (f"the jury's estimated cost {format_usd(cost)} is above {{max_cost}} {format_usd(max_cost)}; "
               "judge fewer models/questions ({model_list}, {first_n}), drop a judge or raise {max_cost}")
        raise ConfigError(f"dry run: the real run would be refused: {why}" if dry_run else why)


@dataclass(frozen=True)
class JuryPlanMade:
    plan: JuryPlan

    def describe(self) -> str:
        return self.plan.describe()


@dataclass(frozen=True)
class JurySummary:
    """What each judge did (in jury order); ``failed``: the judges that stopped, with why."""

    summaries: tuple[tuple[str, JudgeSummary], ...]
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def written(self) -> int:
        return sum(s.written for _, s in self.summaries)

    def check_failure_rate(self, max_rate: float, judge_model: str = "") -> None:
        """Each judge's own gate: the first judge with more than ``max_rate`` replies without a verdict stops
        the run (``JudgeCannotJudge``), named."""
        for name, summary in self.summaries:
            summary.check_failure_rate(max_rate, name)

    # The usage of the whole jury, as one judge's summary gives it (the Python API's ``Usage``).
    @property
    def calls(self) -> int:
        return sum(s.calls for _, s in self.summaries)

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for _, s in self.summaries)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for _, s in self.summaries)

    @property
    def cost(self) -> float | None:
        costs = [0.0 if s.local else s.cost for _, s in self.summaries]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def elapsed_s(self) -> float:
        return max((s.elapsed_s for _, s in self.summaries), default=0.0)  # the judges run side by side

    @property
    def local(self) -> bool:
        return all(s.local for _, s in self.summaries)

    @property
    def failures(self) -> dict[str, int]:
        """Failed judgments by kind, over every judge."""
        total: dict[str, int] = {}
        for _, s in self.summaries:
            for kind, n in s.failures.items():
                total[kind] = total.get(kind, 0) + n
        return total

    def describe(self) -> str:
        lines = []
        for name, summary in self.summaries:
            lines.append(f"{name}:")
            lines += [f"  {line}" for line in summary.describe().splitlines()]
        lines.append(f"jury: {self.written} judgment(s) written by {len(self.summaries)} judge(s), "
                     f"cost {format_usd(self.cost)}")
        return "\n".join(lines)


def _nothing(plan: JudgePlan) -> JudgeSummary:
    return JudgeSummary(0, {}, {}, 0, 0, 0, 0, 0.0 if plan.price else None, 0.0, local=plan.config.local is not None)


async def _run_all(plans: tuple[JudgePlan, ...]) -> list[JudgeSummary | BaseException]:
    return await asyncio.gather(*(run_plan(p) for p in plans), return_exceptions=True)


def judge_jury(config: JudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print,
               on_event: Callable[[JudgeEvent | JuryPlanMade], None] | None = None) -> JurySummary | None:
    """``mtbench judge`` with several judges: hold every judge's file, plan them all, tell the one plan,
    then judge with all of them at once. Returns None when nothing was run."""
    def tell(event: JuryPlanMade | NothingToJudge) -> None:
        if on_event is not None:
            on_event(event)
        else:
            announce(event.describe())

    jurors = config.jurors()
    for juror in jurors:
        juror.backend().check_inputs()
    works = [load_work(juror) for juror in jurors]  # the inputs' problems first, before any file is held
    if dry_run:
        plan = JuryPlan(config, tuple(plan_for(w) for w in works))
        tell(JuryPlanMade(plan))
        check_jury_budget(plan, dry_run=True)
        return None
    with contextlib.ExitStack() as held:
        for juror in jurors:
            held.enter_context(exclusive_output(juror.output, "judge"))
        plan = JuryPlan(config, tuple(plan_for(w) for w in works))
        tell(JuryPlanMade(plan))
        check_jury_budget(plan)
        if not plan.todo:
            tell(NothingToJudge(jurors[0].output, "nothing to judge: every judge's file holds every match"))
            return None
        busy = tuple(p for p in plan.plans if p.resume.todo)
        for p in busy:
            p.config.backend().check_credentials()
        outcomes = dict(zip((p.config.judge_model for p in busy), asyncio.run(_run_all(busy)), strict=True))
    summaries, failed = [], []
    for p in plan.plans:
        name = p.config.judge_model
        outcome = outcomes.get(name, _nothing(p))
        if isinstance(outcome, RunFailed):
            failed.append((name, str(outcome)))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            summaries.append((name, outcome))
    summary = JurySummary(tuple(summaries), tuple(failed))
    if failed:
        announce(summary.describe())
        raise RunFailed("; ".join(f"judge {name}: {why}" for name, why in failed))
    return summary


def judge_any(config: JudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print,
              ) -> JudgeSummary | JurySummary | None:
    """``mtbench judge``: one judge (``runner.judge``) or a jury (``judge_jury``)."""
    if config.is_jury:
        return judge_jury(config, dry_run=dry_run, announce=announce)
    return judge(config, dry_run=dry_run, announce=announce)
