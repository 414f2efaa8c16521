"""`mtbench run`'s plan: what each step has left to do and what the judging will cost, before any of it.

The answers still to generate are counted by the answer source, as the answer commands count them
(``sources``, ``answer_file``). The
judging is planned by the judge's own planner (``gen_judgment.load_work`` / ``plan_for``), with each answer
not generated yet standing in as a placeholder as long as its whole token limit: the estimate is an upper
bound until the answers exist, and the judge plans again, exactly, before its first call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH
from mtbench.core.cost import CHARS_PER_TOKEN
from mtbench.core.options import check
from mtbench.core.records import Answer, Choice
from mtbench.gen_judgment import JudgePlan, load_work, plan_for
from mtbench.gen_judgment.jury import JuryPlan
from mtbench.pipeline.config import RunConfig
from mtbench.pipeline.sources import AnswerPlan
from mtbench.protocols import BenchProtocol, protocol_for

__all__ = ["AnswerPlan", "RunPlan", "answer_plans", "missing_data", "placeholder_answers", "plan_run"]


@dataclass(frozen=True)
class RunPlan:
    """What a run has left to do; ``missing_data`` non-empty: the data must be downloaded first (and the
    rest cannot be planned before it is)."""

    missing_data: tuple[Path, ...]
    answers: tuple[AnswerPlan, ...] = ()
    judge: JudgePlan | JuryPlan | None = None
    estimated_answers: int = 0  # answers the judge plan counts that do not exist yet
    # The bench's own protocol (MT-Bench-101), asked once from the files the plan was made with; None:
    # MT-bench's. The judge and show steps hand their work to it.
    protocol: BenchProtocol | None = field(default=None, compare=False)

    @property
    def answers_to_generate(self) -> int:
        return sum(len(a.todo) for a in self.answers)

    def describe(self) -> str:
        if self.missing_data:
            shown = ", ".join(str(p) for p in self.missing_data[:3]) + (", ..." if len(self.missing_data) > 3 else "")
            return (f"data: {len(self.missing_data)} file(s) missing ({shown}): the run downloads them first, "
                    "then plans the answers and the judging")
        lines = ["plan:", *(f"  {a.describe()}" for a in self.answers)]
        if self.judge is not None:
            lines += [f"  {line}" for line in self.judge.describe().splitlines()]
            if self.estimated_answers:
                lines.append(f"  ({self.estimated_answers} of the answers judged are not generated yet: their "
                             "tokens and cost are estimated at each turn's full token limit, an upper bound; the "
                             "judge plans exactly before its first call)")
        return "\n".join(lines)


def missing_data(config: RunConfig) -> tuple[Path, ...]:
    """The data files the run needs and the data folder lacks (those ``mtbench download`` fetches)."""
    from mtbench.download import mt_bench_files
    from mtbench.download.mt_bench import manifest_files

    layout = config.layout
    if layout.bench_name != DEFAULT_BENCH:
        needed = [layout.question_file, layout.judge_prompts_file]
        pinned = [layout.data_dir / f.path for f in manifest_files(layout.manifest)]
        if pinned and layout.judge_prompts_file not in pinned:  # judged with prompts of its own (MT-Bench-101's)
            needed = pinned
    else:
        needed = [layout.data_dir / f.path for f in mt_bench_files(layout)]
    return tuple(p for p in needed if not p.is_file())


def answer_plans(config: RunConfig) -> tuple[AnswerPlan, ...]:
    """Each model's answer step, counted as its command counts it (reads the question and answer files)."""
    return config.source.plans()


def placeholder_answers(plans: tuple[AnswerPlan, ...]) -> Mapping[str, Mapping[int, Answer]]:
    """An answer as long as its token limit for every question still to generate (chars/4, as the judge
    estimates), by model: what the judge plans with until the real ones exist."""
    return {
        plan.model_id: {
            q.question_id: Answer(q.question_id, plan.model_id, (Choice(0, tuple(
                "x" * int(plan.max_tokens * CHARS_PER_TOKEN) for _ in q.turns)),))
            for q in plan.todo
        }
        for plan in plans
        if plan.todo
    }


def plan_run(config: RunConfig) -> RunPlan:
    """The run's plan from the files as they are now. Calls nothing and writes nothing."""
    missing = missing_data(config)
    if missing:
        return RunPlan(missing)
    protocol = protocol_for(config.layout)
    if protocol is not None:  # what the protocol's judge and tables cannot do, refused before any call
        name = config.layout.bench_name
        check(not config.judge.is_jury, f"a jury (several {{judge_models}}, or {{jury_file}}) judges MT-bench; "
              f"{name} takes one judge per run")
    load = load_work if protocol is None else protocol.load_work
    answers = answer_plans(config)
    placeholders = placeholder_answers(answers)
    plans = tuple(plan_for(load(juror, placeholders)) for juror in config.judge.jurors())
    judge = JuryPlan(config.judge, plans) if config.judge.is_jury else plans[0]
    return RunPlan((), answers, judge, sum(len(a.todo) for a in answers), protocol)
