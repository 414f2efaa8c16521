"""Adaptive concurrency against a real rate-limited loopback server (token buckets with OpenAI's headers).

The client paces from the x-ratelimit-* headers, and where a server sends none, halves its in-flight
limit once per 429 burst and pauses the whole run once.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import pytest

from mtbench.core.client import ChatClient, EndpointConfig
from mtbench.core.rate_limit import parse_duration
from mtbench.core.runner import run_bounded
from tests.openai_server import OpenAITestServer, RateLimit, error, go_duration
from tests.test_judge import OFFICIAL, SMALL, add_answers, judge, rows, single_file

pytestmark = pytest.mark.timing  # wall-clock pacing: run alone, after the parallel suite (scripts/test.sh)

PROMPT = [{"role": "user", "content": "x" * 400}]


@pytest.mark.parametrize("text, seconds", [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5), ("1h2m3s", 3723.0), ("0s", 0.0),
    ("2", 2.0), ("0.25", 0.25), ("", None), (None, None), ("soon", None), ("1s later", None), ("-1s", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize("seconds", [0.02, 0.5, 1.0, 1.5, 61.25, 360.0])
def test_server_durations_read_back(seconds):
    assert parse_duration(go_duration(seconds)) == pytest.approx(seconds, abs=1e-3)


async def _fan_out(base_url: str, n: int, parallel: int = 256) -> tuple[int, float, ChatClient]:
    async with ChatClient(EndpointConfig(base_url=base_url), max_connections=parallel) as client:
        async def one(_: int):
            return await client.chat("m", PROMPT, temperature=0, max_tokens=100)

        started = time.monotonic()
        ok = 0
        async for _, result in run_bounded(range(n), one, parallel=parallel):
            ok += result.ok
        return ok, time.monotonic() - started, client


@pytest.mark.parametrize("requests, tokens", [(60, 1e9), (1e6, 60 * 200)], ids=["rpm-bound", "tpm-bound"])
@pytest.mark.slow
def test_parallel_256_uses_the_window_without_exceeding_it(monkeypatch, requests, tokens):
    """At --parallel 256 against 60 requests (or 60 requests' tokens) a second: <= 5% answered 429,
    and at least 80% of what the buckets allowed over the run is done."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    limit = RateLimit(requests=requests, tokens=tokens, window_s=1.0)
    with OpenAITestServer(lambda body: "hi", latency=0.05, rate_limit=limit) as server:
        ok, wall, client = asyncio.run(_fan_out(server.base_url, 240))
    assert ok == 240
    assert limit.limited <= 0.05 * (limit.limited + limit.admitted), limit.limited
    assert client.rate.rate_limited == limit.limited
    per_request = limit.tokens_charged / limit.admitted
    allowed = min(requests, tokens / per_request) * (1 + wall)  # a full bucket, then its refill
    assert ok >= 0.8 * allowed, (ok, allowed, wall)
    assert client.rate.waited_s > 0.5 * wall  # it was the window that held the run back, and it says so


def test_a_429_burst_without_headers_halves_once_and_pauses_the_run_once(monkeypatch):
    """A server that answers a burst of 429s with only Retry-After: one shared pause, one halving."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    count = itertools.count()
    lock = threading.Lock()

    def responder(body):
        with lock:
            n = next(count)
        return error(429, "slow down", {"retry-after-ms": "300"}) if 1 <= n <= 64 else "hi"

    with OpenAITestServer(responder, latency=0.02) as server:
        ok, wall, client = asyncio.run(_fan_out(server.base_url, 128, parallel=64))
    assert ok == 128
    rate = client.rate
    assert rate.rate_limited == 64
    assert rate.limit >= 32  # halved once for the burst (then growing back), not 64 times to 1
    assert 0.25 <= rate.waited_s < 1.0  # one pause of 300 ms for the run, not one per request
    assert wall < 2.0


@pytest.mark.slow
def test_judge_summary_reports_429s_and_waiting(data_dir, tmp_path):
    """`mtbench judge --parallel 256` under a tight limit: every match judged once, the summary says
    how many requests were answered 429 and how long the run waited."""
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL[:2]))
    limit = RateLimit(requests=40, tokens=1e9, window_s=1.0)
    with OpenAITestServer(lambda body: "Rating: [[6]]", latency=0.02, rate_limit=limit) as server:
        result = judge(data_dir, server, "--parallel", "256", "--first-n", "40", "--no-progress")
    assert result.returncode == 0, result.stderr
    records = rows(single_file(data_dir))
    assert len(records) == 2 * 40 * 2 == len({(r["question_id"], r["model"], r["turn"]) for r in records})
    assert limit.limited <= 0.05 * limit.admitted
    summary = [line for line in result.stdout.splitlines() if line.startswith("rate limits:")]
    assert summary and f"{limit.limited} request(s) answered 429" in summary[0], result.stdout
    waited = float(summary[0].split("; ")[1].split("s ")[0])
    assert waited > 1.0


@pytest.mark.slow
def test_gen_api_answer_is_paced_by_the_same_controller_and_says_so(data_dir):
    """gen-api-answer at --parallel 256 under 30 requests a second: every question answered, few 429s,
    and its summary line says how many and how long it waited."""
    from tests.test_gen_api_answer import cli

    limit = RateLimit(requests=30, tokens=1e9, window_s=1.0)
    with OpenAITestServer(lambda body: "an answer", latency=0.02, rate_limit=limit) as server:
        result = cli("--model", "m", "--base-url", server.base_url, "--parallel", "256", "--no-progress",
                     "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert result.returncode == 0, result.stderr
    assert limit.admitted == 160 and limit.limited <= 0.05 * limit.admitted  # 80 questions, 2 turns
    line = next(x for x in result.stdout.splitlines() if x.startswith("rate limits:"))
    assert f"{limit.limited} request(s) answered 429" in line


def test_a_429_that_says_nothing_pauses_the_base_delay_doubling_per_burst_until_a_success():
    from mtbench.core.rate_limit import RateController, Ticket

    now = [100.0]
    rate = RateController(ceiling=64, base_pause=0.1, max_pause=0.3, clock=lambda: now[0])
    pauses = []
    for _ in range(4):
        now[0] += 1
        rate.observe(429, {}, Ticket(now[0] - 0.5, (0.0, 0.0)))
        pauses.append(round(rate._paused_until - now[0], 6))
    assert pauses == [0.1, 0.2, 0.3, 0.3]  # doubling, capped at the policy's max delay
    assert rate.limit == 4  # 64 halved once per burst
    rate.observe(200, {}, Ticket(now[0], (0.0, 0.0)))
    now[0] += 1
    rate.observe(429, {}, Ticket(now[0] - 0.5, (0.0, 0.0)))
    assert round(rate._paused_until - now[0], 6) == 0.1
