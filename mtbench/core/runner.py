"""The one fan-out runner: every command that calls an endpoint many times (gen-api-answer, judge).

API::

    runner = Runner(work, parallel=8, noun="question", label=lambda q: f"question {q.question_id}",
                    desc="gen-api-answer m", unit="q", progress=True)
    async with contextlib.aclosing(runner.run(items)) as results:
        async for item, outcome in results:      # completion order: write outcome.value now
            writer.write(outcome.value)
    runner.usage     # UsageMeter: calls, attempts, failures, prompt_tokens, completion_tokens
    runner.counts    # Counter[Level]: items by how they ended

``work(item)`` is an async function returning an ``Outcome``: the caller's value (a record), the API
calls it made (anything with ``ok``, ``attempts``, ``prompt_tokens``, ``completion_tokens``; the
client's ``ChatResult``), and how it ended, a ``Level``:

- ``Level.OK``: it worked.
- ``Level.VERDICT``: every call came back, but what came back was unusable (an unparseable verdict).
- ``Level.REQUEST``: the endpoint answered this request with a failure (a 400 on one odd question, a
  malformed reply after every retry): the endpoint is up, this item failed.
- ``Level.TRANSPORT``: the endpoint itself failed: refused or dropped connections, timeouts, 5xx or
  429 after every retry.

An exception from ``work`` (e.g. ``EndpointFatal`` on a refused key) cancels everything in flight and
propagates.

The stop rule, the same for every command (each a ``RunFailed``, exit 1):

1. **Probe first.** The first item runs alone; if it fails at the REQUEST or TRANSPORT level the run
   stops (``ProbeFailed``) before anything else is sent and before its outcome is yielded, so a dead
   endpoint or a wrong model name costs one item's calls. A VERDICT failure of the probe goes on.
2. **Endpoint down.** ``max(MIN_STREAK, parallel)`` items in a row failed at the TRANSPORT level
   (that many are in flight when an endpoint dies together): the run stops (``EndpointDown``) after
   yielding the item that completed the streak. OK and VERDICT items reset the streak; REQUEST items
   leave it as it is (one odd question says nothing about the endpoint).
3. **Every call failed** is then exit 1 whatever the run's size: such a run stops at its probe.

VERDICT failures never stop a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sys
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.progress import bars_on

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")

# Items failed at the transport level in a row before a run gives up on the endpoint (scaled up to
# --parallel, since that many are in flight when an endpoint goes down).
MIN_STREAK = 3


class Level(enum.Enum):
    """How one item ended; see the module docstring for what each level does to a run."""

    OK = "ok"
    VERDICT = "verdict"
    REQUEST = "request"
    TRANSPORT = "transport"

    @staticmethod
    def worst(levels: Iterable[Level]) -> Level:
        """The level of an item made of several parts (a pair's two games): its worst part's."""
        return max(levels, key=_SEVERITY.index, default=Level.OK)

    @property
    def call_failed(self) -> bool:
        """A call of the item got no usable reply from the endpoint (REQUEST or TRANSPORT)."""
        return self in (Level.REQUEST, Level.TRANSPORT)


_SEVERITY = [Level.OK, Level.VERDICT, Level.REQUEST, Level.TRANSPORT]


class Call(Protocol):
    """What the usage meter reads of one API call (the client's ``ChatResult`` is one)."""

    @property
    def ok(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def completion_tokens(self) -> int | None: ...


@dataclass
class UsageMeter:
    """Totals over a run: calls made, attempts they took, how many failed, tokens they used."""

    calls: int = 0
    attempts: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, call: Call) -> None:
        self.calls += 1
        self.attempts += call.attempts
        self.failures += 0 if call.ok else 1
        self.prompt_tokens += call.prompt_tokens or 0
        self.completion_tokens += call.completion_tokens or 0


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What ``work`` made of one item: its value (to write), the calls made, and how it ended."""

    value: R
    level: Level = Level.OK
    reason: str | None = None  # why it failed; None when level is OK
    calls: Sequence[Call] = ()

    def __post_init__(self) -> None:
        if (self.level is Level.OK) != (self.reason is None):
            raise ValueError(f"an Outcome with level {self.level.name} needs a reason exactly when it failed")

    @property
    def failed(self) -> bool:
        return self.level is not Level.OK


class ProbeFailed(RunFailed):
    """The first item failed at the request or transport level; nothing else was sent."""


class EndpointDown(RunFailed):
    """A streak of items failed at the transport level."""


async def run_bounded(
    items: Iterable[T],
    work: Callable[[T], Awaitable[U]],
    *,
    parallel: int,
) -> AsyncGenerator[tuple[T, U], None]:
    """Run ``work`` over ``items`` with at most ``parallel`` in flight; yield (item, result) as each ends.

    The concurrency primitive under ``Runner`` (no stop rule, no progress). Results come in
    completion order. An exception from ``work`` cancels everything still running and propagates.
    """
    if parallel < 1:
        raise UserError(f"--parallel must be at least 1, got {parallel}")
    iterator = iter(items)
    pending: dict[asyncio.Future[U], T] = {}

    def refill() -> None:
        while len(pending) < parallel:
            try:
                item = next(iterator)
            except StopIteration:
                return
            pending[asyncio.ensure_future(work(item))] = item

    refill()
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                item = pending.pop(task)
                yield item, task.result()
            refill()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class Runner(Generic[T, R]):
    """Fans ``work`` out over items with the one stop rule, a progress bar and a usage meter."""

    work: Callable[[T], Awaitable[Outcome[R]]]
    parallel: int = 1
    noun: str = "item"  # for messages: "the last 3 questions failed ..."
    label: Callable[[T], str] = str  # one item in a message: "question 81"
    desc: str = ""  # the progress bar's title
    unit: str = "it"
    progress: bool = True
    streak_limit: int | None = None  # default: max(MIN_STREAK, parallel)
    usage: UsageMeter = field(default_factory=UsageMeter)
    counts: Counter[Level] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise UserError(f"--parallel must be at least 1, got {self.parallel}")

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    async def run(self, items: Sequence[T]) -> AsyncGenerator[tuple[T, Outcome[R]], None]:
        """Yield (item, outcome) in completion order, raising ``RunFailed`` as the stop rule says."""
        from tqdm import tqdm

        if not items:
            return
        limit = self.streak_limit or max(MIN_STREAK, self.parallel)
        streak = 0
        bar = tqdm(total=len(items), desc=self.desc, unit=self.unit, file=sys.stderr,
                   disable=not bars_on(self.progress), mininterval=0.5, dynamic_ncols=True)
        with bar:
            for probing, batch, parallel in ((True, items[:1], 1), (False, items[1:], self.parallel)):
                fanned = run_bounded(batch, self.work, parallel=parallel)
                async with contextlib.aclosing(fanned) as results:
                    async for item, outcome in results:
                        for call in outcome.calls:
                            self.usage.add(call)
                        if probing and outcome.level.call_failed:
                            raise ProbeFailed(
                                f"{self.label(item)}, the first of {len(items)}, failed: {outcome.reason}; "
                                "stopped before the others"
                            )
                        self.counts[outcome.level] += 1
                        if outcome.level is Level.TRANSPORT:
                            streak += 1
                        elif not outcome.level.call_failed:
                            streak = 0
                        if outcome.failed:
                            bar.set_postfix(failed=self.done - self.counts[Level.OK], refresh=False)
                        bar.update(1)
                        yield item, outcome
                        if streak >= limit:
                            raise EndpointDown(
                                f"stopped: the last {streak} {self.noun}s failed at the endpoint "
                                f"(last: {outcome.reason}); {self.done} of {len(items)} done, "
                                f"{len(items) - self.done} left for a rerun"
                            )
