"""The fan-out runner: bounded concurrency, probe first, the one stop rule, usage, progress.

Work here is real async work (timed sleeps, and a real client against the loopback server for the
concurrency bound); only what each item ends as is scripted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.runner import EndpointDown, Level, Outcome, ProbeFailed, Runner, run_bounded


@dataclass(frozen=True)
class FakeCall:
    ok: bool = True
    attempts: int = 1
    prompt_tokens: int | None = 10
    completion_tokens: int | None = 3


class Script:
    """Work whose item i ends at levels[i] after ``delay`` seconds; records what started and overlap."""

    def __init__(self, levels: list[Level], delay: float = 0.01):
        self.levels = levels
        self.delay = delay
        self.started: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_at_start: list[int] = []

    async def __call__(self, i: int) -> Outcome[str]:
        self.started.append(i)
        self.in_flight_at_start.append(self.in_flight)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay * (1 + (i * 7) % 3))
        finally:
            self.in_flight -= 1
        level = self.levels[i]
        ok = level is Level.OK or level is Level.VERDICT
        return Outcome(f"record {i}", level, None if level is Level.OK else f"{level.value} failure {i}",
                       calls=(FakeCall(ok=ok),))


def drive(runner: Runner, n: int) -> tuple[list[int], BaseException | None]:
    """Run to the end or to the stop; what was yielded, in order, and how it stopped."""
    yielded: list[int] = []

    async def go() -> None:
        async with contextlib.aclosing(runner.run(list(range(n)))) as results:
            async for item, outcome in results:
                assert outcome.value == f"record {item}"
                yielded.append(item)

    try:
        asyncio.run(go())
    except RunFailed as e:
        return yielded, e
    return yielded, None


def test_probe_runs_alone_then_the_rest_fan_out_bounded_in_completion_order():
    work = Script([Level.OK] * 30)
    runner = Runner(work, parallel=4, progress=False)
    yielded, stopped = drive(runner, 30)
    assert stopped is None and sorted(yielded) == list(range(30))
    assert work.in_flight_at_start[:2] == [0, 0], "the second item starts only after the first ended"
    assert work.max_in_flight == 4
    assert yielded != list(range(30)), "completion order, not submission order"
    assert runner.counts == {Level.OK: 30}
    assert (runner.usage.calls, runner.usage.attempts, runner.usage.prompt_tokens,
            runner.usage.completion_tokens, runner.usage.failures) == (30, 30, 300, 90, 0)


@pytest.mark.parametrize("level", [Level.TRANSPORT, Level.REQUEST])
def test_a_probe_failing_at_the_call_level_stops_before_anything_else(level):
    work = Script([level] + [Level.OK] * 20)
    runner = Runner(work, parallel=8, progress=False, label=lambda i: f"question {i}")
    yielded, stopped = drive(runner, 21)
    assert isinstance(stopped, ProbeFailed)
    assert str(stopped).startswith(f"question 0, the first of 21, failed: {level.value} failure 0")
    assert work.started == [0] and yielded == [], "nothing else sent, the failed probe not yielded"
    assert runner.usage.calls == 1 and runner.usage.failures == 1


def test_a_probe_with_an_unusable_verdict_goes_on():
    work = Script([Level.VERDICT] + [Level.OK] * 9)
    yielded, stopped = drive(Runner(work, parallel=3, progress=False), 10)
    assert stopped is None and len(yielded) == 10


def test_a_transport_streak_stops_the_run_after_yielding_the_item_that_ended_it():
    levels = [Level.OK] * 5 + [Level.TRANSPORT] * 40
    runner = Runner(Script(levels, delay=0), parallel=1, noun="question", progress=False)
    yielded, stopped = drive(runner, 45)
    assert isinstance(stopped, EndpointDown)
    assert yielded == list(range(8)), "MIN_STREAK (3) transport failures in a row, each written"
    assert "the last 3 questions failed at the endpoint (last: transport failure 7)" in str(stopped)
    assert "8 of 45 done, 37 left for a rerun" in str(stopped)


def test_the_streak_scales_with_parallel():
    levels = [Level.OK] + [Level.TRANSPORT] * 40
    yielded, stopped = drive(Runner(Script(levels), parallel=6, progress=False), 41)
    assert isinstance(stopped, EndpointDown) and len(yielded) == 1 + 6


def test_request_and_verdict_failures_never_stop_a_run():
    # request-level failures neither count nor reset; verdicts and successes reset the streak
    pattern = [Level.TRANSPORT, Level.TRANSPORT, Level.REQUEST, Level.VERDICT]
    levels = [Level.OK] + pattern * 10 + [Level.REQUEST] * 10
    runner = Runner(Script(levels, delay=0), parallel=1, progress=False)
    yielded, stopped = drive(runner, len(levels))
    assert stopped is None and len(yielded) == len(levels)
    assert runner.counts[Level.REQUEST] == 20 and runner.counts[Level.VERDICT] == 10
    assert runner.usage.failures == 40


def test_a_request_failure_inside_a_streak_does_not_reset_it():
    levels = [Level.OK, Level.TRANSPORT, Level.REQUEST, Level.TRANSPORT, Level.TRANSPORT, Level.OK]
    yielded, stopped = drive(Runner(Script(levels, delay=0), parallel=1, progress=False), 6)
    assert isinstance(stopped, EndpointDown) and yielded == [0, 1, 2, 3, 4]


def test_an_exception_from_work_cancels_what_is_in_flight():
    cancelled = []

    async def work(i: int) -> Outcome[int]:
        if i == 5:
            raise RunFailed("fatal")
        try:
            await asyncio.sleep(0.05 if i < 5 else 10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return Outcome(i)

    with pytest.raises(RunFailed, match="fatal"):
        drive_raw(Runner(work, parallel=4, progress=False), 100)
    assert cancelled, "the rest in flight was cancelled, not awaited"


def drive_raw(runner: Runner, n: int) -> list:
    async def go() -> list:
        return [item async for item, _ in runner.run(list(range(n)))]

    return asyncio.run(go())


def test_progress_on_stderr_unless_disabled(capsys):
    drive(Runner(Script([Level.OK] * 3, delay=0), desc="answering", unit="q"), 3)
    assert "answering" in capsys.readouterr().err
    drive(Runner(Script([Level.OK] * 3, delay=0), desc="answering", progress=False), 3)
    assert capsys.readouterr().err == ""


def test_empty_items_yield_nothing_and_bad_parallel_is_a_user_error():
    assert drive(Runner(Script([]), progress=False), 0) == ([], None)
    with pytest.raises(UserError, match="--parallel must be at least 1, got 0"):
        Runner(Script([]), parallel=0)


def test_an_outcome_has_a_reason_exactly_when_it_failed():
    with pytest.raises(ValueError):
        Outcome("x", Level.TRANSPORT)
    with pytest.raises(ValueError):
        Outcome("x", Level.OK, "why")
    assert Outcome("x", Level.VERDICT, "unparseable").failed and not Outcome("x").failed


def test_run_bounded_bounds_real_requests_to_the_loopback_server(openai_server, monkeypatch):
    from mtbench.core.client import ChatClient, EndpointConfig

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_server.latency = 0.1
    openai_server.responder = lambda body: body["messages"][0]["content"]

    async def go() -> list[tuple[int, str]]:
        async with ChatClient(EndpointConfig(base_url=openai_server.base_url)) as client:
            async def work(i: int) -> str:
                result = await client.chat("m", [{"role": "user", "content": str(i)}], temperature=0, max_tokens=5)
                return result.text or ""

            return [pair async for pair in run_bounded(range(12), work, parallel=3)]

    assert sorted(asyncio.run(go())) == [(i, str(i)) for i in range(12)]
    assert openai_server.max_in_flight == 3


def test_the_worst_part_decides_an_items_level():
    assert Level.worst([Level.OK, Level.VERDICT]) is Level.VERDICT
    assert Level.worst([Level.TRANSPORT, Level.REQUEST, Level.OK]) is Level.TRANSPORT
    assert Level.worst([]) is Level.OK
