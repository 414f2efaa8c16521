"""Running a judging plan: one output file held for the whole run, a preflight (or a local judge's model
load: entering the ``JudgeBackend``), then the calls.

The order is what keeps two runs from paying twice: the output file is locked first, then what it
holds is read, then the plan is made, printed and run. A second run on the same file is refused with
one line before it reads anything (``records.exclusive_output``).

The calls go through the shared fan-out runner (``mtbench.core.runner``), so the judge stops when
gen-api-answer would: a failed first match (probe), or a streak of matches the endpoint never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.client import ChatResult
from mtbench.core.errors import RunFailed
from mtbench.core.jsonl import LazyJsonlWriter
from mtbench.core.records import PairJudgment, SingleJudgment, exclusive_output
from mtbench.core.runner import Outcome, ProbeFailed, Runner
from mtbench.gen_judgment import batch
from mtbench.gen_judgment.config import JudgeConfig
from mtbench.gen_judgment.failures import failure_kind
from mtbench.gen_judgment.matches import Match, SingleMatch, sample_seed
from mtbench.gen_judgment.plan import JudgePlan, JudgeWork, check_budget, load_work, plan_for
from mtbench.gen_judgment.prompts import judge_messages
from mtbench.gen_judgment.results import JudgeSummary, match_outcome, record_failure_kinds

log = logging.getLogger("mtbench")


def _label(match: Match) -> str:
    who = match.model if isinstance(match, SingleMatch) else f"{match.model_1} vs {match.model_2}"
    sample = "" if match.sample is None else f" sample {match.sample}"
    return f"question {match.question_id} turn {match.turn} ({who}){sample}"


async def run_plan(plan: JudgePlan) -> JudgeSummary:
    """Judge what ``plan`` has left to do (a jury runs one of these per judge, side by side)."""
    config = plan.config
    started = time.monotonic()
    failures: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    sent = forced_count = replies = 0

    reasoning_tokens: int | None = None
    async with config.backend() as backend:

        async def work(match: Match) -> Outcome[SingleJudgment | PairJudgment | None]:
            nonlocal sent, forced_count
            results = []
            forced: dict[int, float] = {}
            seed = sample_seed(match.sample)
            sent_seed = {} if seed is None else {"seed": seed}
            # The two games of a pair one after the other, as FastChat: --parallel bounds requests in flight.
            for game, text in enumerate(match.prompts, 1):
                sent += 1
                messages = judge_messages(match.prompt, text)
                result = await backend.chat(
                    config.judge_model, messages, temperature=config.temperature, max_tokens=config.max_tokens,
                    **{**config.extra_body, **sent_seed},  # a sample's own seed over --judge-extra-body's
                )
                result, probability = await backend.force_verdict(match, messages, result)  # --force-verdict
                if probability is not None:
                    forced[game] = probability
                results.append(result)
            forced_count += len(forced)
            return match_outcome(match, results, config.temperature, config.max_tokens, plan.provenance, forced)

        runner: Runner[Match, SingleJudgment | PairJudgment | None] = Runner(
            work, parallel=config.parallel, noun="match", label=_label, desc="judging", unit="match",
            progress=config.progress,
        )
        with contextlib.ExitStack() as files:
            writer = LazyJsonlWriter(plan.output, files)
            try:
                async with contextlib.aclosing(runner.run(plan.resume.todo)) as results:
                    async for _, outcome in results:
                        for call in outcome.calls:
                            if isinstance(call, ChatResult) and call.reasoning_tokens is not None:
                                reasoning_tokens = (reasoning_tokens or 0) + call.reasoning_tokens
                        if outcome.value is None:
                            unanswered[failure_kind(outcome.reason or "")] += 1
                        else:
                            writer.write(outcome.value)
                            replies += 2 if isinstance(outcome.value, PairJudgment) else 1
                            failures.update(record_failure_kinds(outcome.value))
            except RunFailed as e:
                hint = backend.probe_hint(config.judge_model) if isinstance(e, ProbeFailed) else ""
                saved = (f"{writer.written} judgment(s) saved to {plan.output}" if writer.written
                         else "nothing written")
                raise type(e)(
                    f"{e}{hint}; stopped after {sent} judge request(s), {saved}; "
                    "fix the cause and rerun the same command to resume"
                ) from None

    usage = runner.usage
    # completion_tokens include the reasoning tokens (OpenAI, vLLM, DeepSeek): all priced as output.
    cost = None if plan.price is None else plan.price.cost(usage.prompt_tokens, usage.completion_tokens)
    rate_limited, waited_s = backend.rate_limits()
    return JudgeSummary(
        written=writer.written, failures=dict(failures), unanswered=dict(unanswered), calls=usage.calls,
        attempts=usage.attempts, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        cost=cost, elapsed_s=time.monotonic() - started, reasoning_tokens=reasoning_tokens,
        rate_limited=rate_limited, waited_s=waited_s, forced=forced_count, local=config.local is not None,
        replies=replies,
    )


def run_judging(plan: JudgePlan) -> JudgeSummary:
    """Judge every match the plan has left to do, appending each record the moment it is made.

    A kill at any moment loses only the calls in flight; a rerun skips what is on disk. The caller holds
    the output file (``judge`` does); this only writes.
    """
    if not plan.resume.todo:
        return JudgeSummary(0, {}, {}, 0, 0, 0, 0, 0.0 if plan.price else None, 0.0,
                            local=plan.config.local is not None)
    return asyncio.run(run_plan(plan))


@dataclass(frozen=True)
class PlanMade:
    """The plan, made from the output file as it is (a dry run's, or the run's, made under its lock)."""

    plan: JudgePlan

    def describe(self) -> str:
        return self.plan.describe()


@dataclass(frozen=True)
class BatchesResumed:
    """Batches in flight from an earlier run, resumed rather than submitted again (``--batch``)."""

    batches: int
    matches: int
    sidecar: Path

    def describe(self) -> str:
        return (f"batches in flight: {self.batches} holding {self.matches} match(es) ({self.sidecar}): "
                "resumed, not submitted again")


@dataclass(frozen=True)
class NothingToJudge:
    """Every match is already in the output file: nothing is run."""

    output: Path
    why: str = "nothing to judge: every match is already in the output file"  # ``JudgePlan.nothing_to_judge``

    def describe(self) -> str:
        return self.why


JudgeEvent = PlanMade | BatchesResumed | NothingToJudge


def judge(
    config: JudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print,
    on_event: Callable[[JudgeEvent], None] | None = None, load: Callable[[JudgeConfig], JudgeWork] = load_work,
) -> JudgeSummary | None:
    """``mtbench judge``: hold the output, read what is done, plan, tell the plan, then run it.

    What it has to tell goes to ``on_event`` as typed values (``JudgeEvent``) where one is given, else
    to ``announce`` as text. A dry run plans from the file as it is, tells, and is refused by
    ``--max-cost`` exactly as the real run would be. Returns None when nothing was run.

    ``load`` builds the matches from the inputs: MT-bench's (``plan.load_work``), or a bench protocol's
    (``mtbench.mt_bench_101.judging.load_work``); the rest of the run is the same for every bench.
    """
    def tell(event: JudgeEvent) -> None:
        if on_event is not None:
            on_event(event)
        else:
            announce(event.describe())

    backend = config.backend()
    backend.check_inputs()  # a wrong --judge-model-path is one line before anything is read
    work = load(config)  # the inputs' problems first: nothing is created for a bad --data-dir
    if dry_run:
        plan = plan_for(_resume_batches(work, batch.sidecar_path(config.output)))
        tell(PlanMade(plan))
        check_budget(plan, dry_run=True)
        return None
    with exclusive_output(config.output, "judge"):
        sidecar = batch.sidecar_path(config.output)
        work = _resume_batches(work, sidecar)
        plan = plan_for(work)
        tell(PlanMade(plan))
        in_flight = bool(work.config.batch) and sidecar.exists()
        if in_flight:
            held = batch.Sidecar.load(sidecar)
            tell(BatchesResumed(len(held.submissions), len(held.keys()), sidecar))
        check_budget(plan)
        if not plan.resume.todo and not in_flight:
            tell(NothingToJudge(plan.output, plan.nothing_to_judge()))
            return None
        backend.check_credentials()  # a missing key is a user error before anything starts
        return batch.run_batch(plan) if work.config.batch else run_judging(plan)


def _resume_batches(work: JudgeWork, sidecar: Path) -> JudgeWork:
    """With neither --batch nor --no-batch, a run whose file has batches in flight resumes them."""
    if work.config.batch is None and sidecar.exists() and work.config.backend().can_batch:
        return dataclasses.replace(work, config=dataclasses.replace(work.config, batch=True))
    return work
