"""Running a judging plan: one output file held for the whole run, a preflight, then the calls.

The order is what keeps two runs from paying twice: the output file is locked first, then what it
holds is read, then the plan is made, printed and run. A second run on the same file is refused with
one line before it reads anything (``records.exclusive_output``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from mtbench.client import ChatClient, ChatResult, run_bounded
from mtbench.errors import RunFailed
from mtbench.gen_judgment.failures import failure_kind
from mtbench.gen_judgment.matches import Match, SingleMatch
from mtbench.gen_judgment.plan import JudgeConfig, JudgePlan, check_budget, load_work, plan_for
from mtbench.gen_judgment.prompts import judge_messages
from mtbench.gen_judgment.results import (
    JudgeSummary,
    pair_record,
    record_failure_kinds,
    single_record,
    unanswered_reason,
)
from mtbench.records import JsonlWriter, PairJudgment, SingleJudgment, exclusive_output

log = logging.getLogger("mtbench")


class _Breaker:
    """Stops a run whose every call fails: an endpoint that goes down mid-run would otherwise burn the
    whole retry budget on each of thousands of matches before the user learns anything."""

    def __init__(self, limit: int):
        self.limit = limit
        self.consecutive = 0

    def observe(self, results: Sequence[ChatResult]) -> None:
        for result in results:
            self.consecutive = 0 if result.ok else self.consecutive + 1
        if self.consecutive >= self.limit:
            last = next(r.error for r in reversed(results) if not r.ok)
            raise RunFailed(f"the last {self.consecutive} judge calls all failed (last: {last})")


class _LazyWriter:
    """Appends records, opening the file only for the first one: a run that writes nothing (a refused
    key, an endpoint that never answers) leaves no empty file that would list the judge."""

    def __init__(self, path: Path, stack: contextlib.ExitStack):
        self.path = path
        self._stack = stack
        self._writer: JsonlWriter | None = None
        self.written = 0

    def write(self, record: SingleJudgment | PairJudgment) -> None:
        if self._writer is None:
            self._writer = self._stack.enter_context(JsonlWriter(self.path))
        self._writer.write(record)
        self.written += 1


async def _preflight(client: ChatClient, judge_model: str) -> None:
    """One GET /models: an endpoint that is down or refuses the key stops the run here, in seconds."""
    served = await client.list_models()
    if served is not None and judge_model not in served:
        shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
        log.warning("%s does not list the judge model %r (it lists %s); trying it anyway",
                    client.base_url, judge_model, shown or "no model")


async def _run(plan: JudgePlan) -> JudgeSummary:
    from tqdm import tqdm

    config = plan.config
    started = time.monotonic()
    failures: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    breaker = _Breaker(max(10, 2 * config.parallel))
    sent = 0
    last_error = ""

    async with ChatClient(config.endpoint, max_connections=config.parallel) as client:
        await _preflight(client, config.judge_model)

        async def call(match: Match, text: str) -> ChatResult:
            nonlocal sent
            sent += 1
            return await client.chat(
                config.judge_model, judge_messages(match.prompt, text),
                temperature=config.temperature, max_tokens=config.max_tokens,
            )

        async def work(match: Match) -> tuple[ChatResult, ...]:
            # The two games of a pair one after the other, as FastChat: --parallel bounds requests in flight.
            return tuple([await call(match, text) for text in match.prompts])

        bar = tqdm(total=len(plan.resume.todo), desc="judging", unit="match", file=sys.stderr,
                   disable=not config.progress, mininterval=0.5, dynamic_ncols=True)
        with contextlib.ExitStack() as files:
            writer = _LazyWriter(plan.output, files)
            try:
                # The first match alone, then the rest in parallel: a refused key or a wrong model name
                # stops the run after one call instead of --parallel calls.
                todo = plan.resume.todo
                for batch, parallel in ((todo[:1], 1), (todo[1:], config.parallel)):
                    async for match, results in run_bounded(batch, work, parallel=parallel):
                        last_error = next((r.error for r in results if r.error), last_error)
                        reason = unanswered_reason(results)
                        if reason is not None:
                            unanswered[failure_kind(reason)] += 1
                        else:
                            record = (
                                single_record(match, results[0], config.temperature, config.max_tokens)
                                if isinstance(match, SingleMatch)
                                else pair_record(match, results[0], results[1], config.temperature, config.max_tokens)
                            )
                            writer.write(record)
                            failures.update(record_failure_kinds(record))
                        bar.update(1)
                        breaker.observe(results)
            except RunFailed as e:
                saved = (f"{writer.written} judgment(s) saved to {plan.output}" if writer.written
                         else "nothing written")
                raise type(e)(
                    f"{e}; stopped after {sent} judge request(s), {saved}; "
                    "fix the cause and rerun the same command to resume"
                ) from None
            finally:
                bar.close()
        meter = client.meter

    if meter.calls and meter.failures == meter.calls:
        kept = (f"; {writer.written} recorded as failed judgments (rerun with --retry-failed once it works)"
                if writer.written else "; nothing written")
        raise RunFailed(f"all {meter.calls} judge call(s) failed (last: {last_error}){kept}")
    cost = None if plan.price is None else plan.price.cost(meter.prompt_tokens, meter.completion_tokens)
    return JudgeSummary(
        written=writer.written, failures=dict(failures), unanswered=dict(unanswered), calls=meter.calls,
        attempts=meter.attempts, prompt_tokens=meter.prompt_tokens, completion_tokens=meter.completion_tokens,
        cost=cost, elapsed_s=time.monotonic() - started,
    )


def run_judging(plan: JudgePlan) -> JudgeSummary:
    """Judge every match the plan has left to do, appending each record the moment it is made.

    A kill at any moment loses only the calls in flight; a rerun skips what is on disk. The caller holds
    the output file (``judge`` does); this only writes.
    """
    if not plan.resume.todo:
        return JudgeSummary(0, {}, {}, 0, 0, 0, 0, 0.0 if plan.price else None, 0.0)
    return asyncio.run(_run(plan))


def judge(config: JudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print) -> JudgeSummary | None:
    """``mtbench judge``: hold the output, read what is done, plan, ``announce`` the plan, then run it.

    A dry run plans from the file as it is, announces, and is refused by ``--max-cost`` exactly as the
    real run would be. Returns None when nothing was run.
    """
    work = load_work(config)  # the inputs' problems first: nothing is created for a bad --data-dir
    if dry_run:
        plan = plan_for(work)
        announce(plan.describe())
        check_budget(plan, dry_run=True)
        return None
    with exclusive_output(config.output, "judge"):
        plan = plan_for(work)
        announce(plan.describe())
        check_budget(plan)
        if not plan.resume.todo:
            announce("nothing to judge: every match is already in the output file")
            return None
        config.endpoint.api_key()  # a missing key is a user error before anything starts
        return run_judging(plan)
