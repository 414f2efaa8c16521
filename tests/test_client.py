"""The shared client against a real HTTP server: retry policy, fatal errors, usage, concurrency."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from mtbench.core.client import (
    CallFailure,
    ChatClient,
    ChatResult,
    EndpointConfig,
    EndpointFatal,
    FailureKind,
    RetryPolicy,
    run_bounded,
)
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError
from mtbench.core.request_params import Refusal, refused_parameter
from mtbench.core.runner import Level
from tests.openai_server import (
    MAX_TOKENS_REFUSED,
    TEMPERATURE_0_REFUSED,
    Reply,
    completion,
    error,
    reasoning_model_refusal,
    with_reasoning,
)

FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=2.0)
MESSAGES = [{"role": "user", "content": "hi"}]


def chat(server, *, timeout=5.0, retry=FAST, key="sk-test-secret-123", monkeypatch=None):
    async def go():
        async with ChatClient(EndpointConfig(base_url=server.base_url, timeout=timeout, retry=retry)) as c:
            return await c.chat("m", MESSAGES, temperature=0, max_tokens=10), c.meter

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")


def test_success_carries_text_usage_and_model(openai_server):
    openai_server.enqueue(completion("hello", model="served-name", prompt_tokens=5, completion_tokens=2))
    result, meter = chat(openai_server)
    assert result.ok and result.text == "hello" and result.model == "served-name"
    assert (result.prompt_tokens, result.completion_tokens, result.attempts) == (5, 2, 1)
    assert (meter.calls, meter.prompt_tokens, meter.completion_tokens) == (1, 5, 2)
    request = openai_server.chat_requests[0]
    assert request.body == {"model": "m", "messages": MESSAGES, "temperature": 0, "max_tokens": 10, "n": 1}
    assert request.headers["Authorization"] == "Bearer sk-test-secret-123"


def test_429_honours_retry_after(openai_server):
    openai_server.enqueue(error(429, "slow down", {"Retry-After": "0.5"}), "done")
    result, _ = chat(openai_server)
    assert result.text == "done" and result.attempts == 2
    gap = openai_server.chat_requests[1].time - openai_server.chat_requests[0].time
    assert gap >= 0.45, f"retried after {gap:.2f}s, before Retry-After"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(openai_server, status):
    openai_server.enqueue(error(status), error(status), "recovered")
    result, _ = chat(openai_server)
    assert result.text == "recovered" and result.attempts == 3


def test_gives_up_after_max_retries_with_a_reason(openai_server):
    openai_server.responder = lambda body: error(500, "always broken")
    result, meter = chat(openai_server)
    assert not result.ok and result.text == ""
    assert "HTTP 500" in result.error and "always broken" in result.error and "4 attempts" in result.error
    assert len(openai_server.chat_requests) == 4 and meter.failures == 1


@pytest.mark.timing
@pytest.mark.slow
def test_hanging_request_times_out_and_is_retried(openai_server):
    openai_server.enqueue(Reply(delay=3.0, body=completion("late").body), "quick")
    started = time.monotonic()
    result, _ = chat(openai_server, timeout=0.5)
    assert result.text == "quick" and result.attempts == 2
    assert time.monotonic() - started < 2.5


def test_dropped_connection_is_retried(openai_server):
    openai_server.enqueue(Reply(drop=True), "after drop")
    result, _ = chat(openai_server)
    assert result.text == "after drop" and result.attempts == 2


@pytest.mark.slow
def test_transport_failures_say_what_happened_on_the_wire(openai_server):
    openai_server.enqueue(Reply(drop=True))
    result, _ = chat(openai_server, timeout=2.0, retry=RetryPolicy(max_retries=0))
    assert result.error == "connection closed by the server before it replied (gave up after 1 attempts)"
    assert result.failure.kind is FailureKind.TRANSPORT and result.level is Level.TRANSPORT
    openai_server.enqueue(Reply(cut_after=20, body=completion("hello there " * 20).body))
    result, _ = chat(openai_server, retry=RetryPolicy(max_retries=0))
    assert result.error.startswith("connection dropped mid-reply (received 20 of ")
    assert "400" not in result.error and result.level is Level.TRANSPORT
    openai_server.enqueue(Reply(delay=2.0, body=completion("late").body))
    result, _ = chat(openai_server, timeout=0.3, retry=RetryPolicy(max_retries=0))
    assert result.error.startswith("timed out after 0.3s") and result.level is Level.TRANSPORT


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-inf", "Wed, 21 Oct 2015 07:28:00 GMT", "1e999"])
@pytest.mark.timing
def test_an_unusable_retry_after_falls_back_to_the_normal_backoff(openai_server, value):
    openai_server.enqueue(error(429, "slow down", {"Retry-After": value}), error(503, headers={"Retry-After-Ms": "nan"}),
                          "done")
    started = time.monotonic()
    result, _ = chat(openai_server, retry=RetryPolicy(max_retries=3, base_delay=0.01, max_delay=5.0))
    assert result.text == "done" and result.attempts == 3
    assert time.monotonic() - started < 1.5, "slept on a Retry-After that says nothing"


def test_malformed_body_is_a_failure_not_a_crash(openai_server):
    openai_server.responder = lambda body: Reply(body='{"choices": [{"message": {"content": "abc')
    result, _ = chat(openai_server)
    assert not result.ok and result.failure.kind is FailureKind.MALFORMED
    assert result.error.startswith("malformed response: not JSON: Unterminated string starting at line 1")
    assert "at at" not in result.error and "gave up after 4 attempts" in result.error


@pytest.mark.parametrize("reply, kind, reason", [
    (Reply(body={"id": "x"}), FailureKind.MALFORMED, "malformed response: no choices in"),
    (Reply(body={"choices": []}), FailureKind.MALFORMED, "malformed response: no choices in"),
    (completion(""), FailureKind.EMPTY, "empty reply: the content is blank"),
    (completion(None), FailureKind.EMPTY, "empty reply: the content is null"),
])
def test_a_200_that_is_no_completion_is_retried_like_malformed_json(openai_server, reply, kind, reason):
    openai_server.enqueue(reply, "second try")
    result, _ = chat(openai_server)
    assert result.ok and result.text == "second try" and result.attempts == 2
    openai_server.responder = lambda body: reply
    result, _ = chat(openai_server)
    assert not result.ok and result.failure.kind is kind and result.error.startswith(reason)
    assert result.error.endswith("(gave up after 4 attempts)") and result.level is Level.REQUEST


def test_400_is_not_retried(openai_server):
    openai_server.responder = lambda body: error(400, "context too long")
    result, _ = chat(openai_server)
    assert not result.ok and "HTTP 400" in result.error and "context too long" in result.error
    assert len(openai_server.chat_requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_fatal_status_stops_at_once_without_leaking_the_key(openai_server, status):
    openai_server.responder = lambda body: error(status, "Incorrect API key provided: sk-test-secret-123")
    with pytest.raises(EndpointFatal) as info:
        chat(openai_server)
    assert f"HTTP {status}" in str(info.value)
    assert "sk-test-secret-123" not in str(info.value)
    assert len(openai_server.chat_requests) == 1


def test_a_fatal_call_is_counted_as_the_call_it_was(openai_server):
    openai_server.responder = lambda body: error(401, "bad key")

    async def go():
        async with ChatClient(EndpointConfig(base_url=openai_server.base_url, retry=FAST)) as c:
            with pytest.raises(EndpointFatal):
                await c.chat("m", MESSAGES, temperature=0, max_tokens=10)
            return c.meter

    meter = asyncio.run(go())
    assert (meter.calls, meter.attempts, meter.failures) == (1, 1, 1), "not 'stopped after 0 call(s)'"


def test_missing_key_for_the_openai_api_is_a_user_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match=r"\$OPENAI_API_KEY"):
        EndpointConfig().api_key()


def test_self_hosted_endpoint_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    assert EndpointConfig(base_url="http://127.0.0.1:1/v1").api_key() == "no-key"


def test_each_client_draws_its_own_jitter_unless_seeded(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    config = EndpointConfig(base_url="http://127.0.0.1:1/v1")
    policy = RetryPolicy(base_delay=10.0, max_delay=60.0)

    def schedule(**kwargs) -> list[float]:
        return [policy.delay(n, None, ChatClient(config, **kwargs)._rng) for n in range(4)]

    assert schedule() != schedule(), "two processes that failed together would retry in lockstep"
    assert schedule(seed=7) == schedule(seed=7)


@pytest.mark.parametrize("url", ["localhost:8401", "localhost:8401/v1", "ftp://host/v1", "http://", "http:///v1", "127.0.0.1"])
def test_a_base_url_needs_a_scheme_and_a_host(url):
    with pytest.raises(ConfigError, match="base_url must be an http:// or https:// URL with a host") as raised:
        EndpointConfig(base_url=url)
    assert raised.value.fields == ("base_url",)


def test_a_bad_base_url_in_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000")
    with pytest.raises(UserError, match=r"\$OPENAI_BASE_URL must be"):
        EndpointConfig()
    assert EndpointConfig(base_url="https://api.example.com/v1").resolved_base_url() == "https://api.example.com/v1"


def test_settings_check_themselves():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(UserError, match="^timeout must be"):
            EndpointConfig(timeout=bad)
    with pytest.raises(UserError, match="^max_retries must be 0 or more, got -1"):
        RetryPolicy(max_retries=-1)


def test_a_result_is_a_reply_or_a_failure_never_both():
    with pytest.raises(ValueError):
        ChatResult()
    with pytest.raises(ValueError):
        ChatResult(text="hi", failure=CallFailure(FailureKind.EMPTY, "x"))
    failed = ChatResult(failure=CallFailure(FailureKind.HTTP, "HTTP 400: no", 400))
    assert (failed.ok, failed.text, failed.error, failed.level) == (False, "", "HTTP 400: no", Level.REQUEST)
    assert ChatResult(failure=CallFailure(FailureKind.HTTP, "HTTP 502", 502)).level is Level.TRANSPORT
    assert ChatResult(text="hi").level is Level.OK


def test_backoff_is_jittered_capped_and_yields_to_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(0)
    delays = [policy.delay(n, None, rng) for n in range(10)]
    assert all(0 <= d <= min(8.0, 2**n) for n, d in enumerate(delays))
    assert len(set(delays)) == len(delays)
    assert policy.delay(0, 3.0, rng) == 3.0 and policy.delay(0, 99.0, rng) == 8.0


@pytest.mark.timing
def test_run_bounded_respects_parallel_and_streams_results(openai_server):
    openai_server.latency = 0.2
    openai_server.responder = lambda body: body["messages"][0]["content"]

    async def go():
        async with ChatClient(EndpointConfig(base_url=openai_server.base_url, retry=FAST)) as c:
            async def work(i):
                return await c.chat("m", [{"role": "user", "content": str(i)}], temperature=0, max_tokens=5)

            return [(i, r.text) async for i, r in run_bounded(range(20), work, parallel=5)]

    started = time.monotonic()
    results = asyncio.run(go())
    elapsed = time.monotonic() - started
    assert sorted(results) == [(i, str(i)) for i in range(20)]
    assert openai_server.max_in_flight == 5
    assert 0.75 < elapsed < 3.0  # 4 waves of 0.2 s


def test_run_bounded_cancels_the_rest_on_a_fatal_error(openai_server):
    openai_server.enqueue(error(401, "bad key"))
    openai_server.latency = 0.05

    async def go():
        async with ChatClient(EndpointConfig(base_url=openai_server.base_url, retry=FAST)) as c:
            async def work(i):
                return await c.chat("m", MESSAGES, temperature=0, max_tokens=5)

            return [r async for r in run_bounded(range(1000), work, parallel=4)]

    with pytest.raises(EndpointFatal):
        asyncio.run(go())
    assert len(openai_server.chat_requests) <= 8


# ---------------------------------------------------------------------------------------------------
# a reasoning model that refuses max_tokens / temperature: adapted, once per client


def adapting_chats(server, n: int, *, parallel: int = 1, adapt: bool = True, **extra):
    """``n`` calls through one client, ``parallel`` at a time; the results and what the client learnt."""
    async def go():
        config = EndpointConfig(base_url=server.base_url, retry=FAST)
        async with ChatClient(config, adapt_params=adapt) as c:
            async def work(i):
                return await c.chat("o3", MESSAGES, temperature=0, max_tokens=64, **extra)

            results = [r async for _, r in run_bounded(range(n), work, parallel=parallel)]
            return results, c.adapter, c.meter

    return asyncio.run(go())


def test_a_refused_max_tokens_and_temperature_are_adapted_within_the_one_call(openai_server, caplog):
    openai_server.responder = lambda body: reasoning_model_refusal(body) or "Rating: [[7]]"
    with caplog.at_level("WARNING", logger="mtbench"):
        results, adapter, meter = adapting_chats(openai_server, 1)
    (result,) = results
    assert result.ok and result.text == "Rating: [[7]]" and result.params == {"max_completion_tokens": 64}
    assert result.attempts == 3 and (meter.calls, meter.failures) == (1, 0)
    bodies = [r.body for r in openai_server.chat_requests]
    assert [("max_tokens" in b, "temperature" in b, b.get("max_completion_tokens")) for b in bodies] == [
        (True, True, None), (False, True, 64), (False, False, 64),
    ]
    assert [r.getMessage() for r in caplog.records] == adapter.changes and len(adapter.changes) == 2


def test_adaptation_is_learnt_once_even_with_calls_in_flight(openai_server, caplog):
    openai_server.latency = 0.05
    openai_server.responder = lambda body: reasoning_model_refusal(body) or "ok"
    with caplog.at_level("WARNING", logger="mtbench"):
        results, adapter, _ = adapting_chats(openai_server, 40, parallel=8)
    assert all(r.ok and r.params == {"max_completion_tokens": 64} for r in results)
    assert len(caplog.records) == 2  # one line per field, not one per request
    refusals = sum("max_tokens" in r.body or "temperature" in r.body for r in openai_server.chat_requests)
    assert refusals <= 2 * 8  # only the first wave, sent before the client knew; never per request after
    assert len(openai_server.chat_requests) == 40 + refusals


SEED_REFUSED = {"error": {
    "message": "Unsupported parameter: 'seed' is not supported with this model.",
    "type": "invalid_request_error", "param": "seed", "code": "unsupported_parameter",
}}


def test_a_refused_seed_is_left_out_once_for_every_later_call(openai_server, caplog):
    # judge --judge-samples N sends each sample's seed: an endpoint that refuses it must not fail the run.
    openai_server.responder = lambda body: Reply(status=400, body=SEED_REFUSED) if "seed" in body else "Rating: [[7]]"
    with caplog.at_level("WARNING", logger="mtbench"):
        results, adapter, meter = adapting_chats(openai_server, 3, seed=1)
    assert all(r.ok and r.params == {"temperature": 0, "max_tokens": 64} for r in results)
    assert ["seed" in r.body for r in openai_server.chat_requests] == [True, False, False, False]
    assert (meter.calls, meter.failures) == (3, 0)
    (line,) = adapter.changes
    assert line.startswith("o3 refuses seed (HTTP 400 unsupported_parameter): sending no seed")
    assert [r.getMessage() for r in caplog.records] == [line]


def test_a_refusal_is_not_adapted_unless_asked_or_adaptable(openai_server):
    openai_server.responder = lambda body: reasoning_model_refusal(body) or "ok"
    (result,), _, _ = adapting_chats(openai_server, 1, adapt=False)
    assert not result.ok and "HTTP 400: Unsupported parameter: 'max_tokens'" in result.error
    assert len(openai_server.chat_requests) == 1

    # A refused field the user chose is theirs to fix; a refusal of a field not sent is no loop.
    openai_server.requests.clear()
    effort = {"error": {"message": "Unsupported value: 'reasoning_effort' does not support 'max' with this model.",
                        "type": "invalid_request_error", "param": "reasoning_effort", "code": "unsupported_value"}}
    openai_server.responder = lambda body: Reply(status=400, body=effort)
    (result,), adapter, _ = adapting_chats(openai_server, 1, reasoning_effort="max")
    assert not result.ok and len(openai_server.chat_requests) == 1 and adapter.changes == []
    openai_server.requests.clear()
    openai_server.responder = lambda body: Reply(status=400, body=MAX_TOKENS_REFUSED)
    (result,), _, _ = adapting_chats(openai_server, 1)
    assert not result.ok and len(openai_server.chat_requests) == 2  # once adapted, then a plain 400


def test_a_users_max_completion_tokens_replaces_max_tokens(openai_server):
    (result,), _, _ = adapting_chats(openai_server, 1, max_completion_tokens=4096, reasoning_effort="low")
    assert result.params == {"temperature": 0, "max_completion_tokens": 4096, "reasoning_effort": "low"}
    assert "max_tokens" not in openai_server.chat_requests[0].body


@pytest.mark.parametrize("body, refusal", [
    (MAX_TOKENS_REFUSED, Refusal("max_tokens", "unsupported_parameter")),
    (TEMPERATURE_0_REFUSED, Refusal("temperature", "unsupported_value")),
    # A proxy that keeps OpenAI's words but not its fields.
    ({"error": {"message": MAX_TOKENS_REFUSED["error"]["message"], "code": "invalid_request_body"}},
     Refusal("max_tokens", "unsupported_parameter")),
    ({"error": {"message": "context too long", "code": 400}}, None),
    ("not json", None),
])
def test_which_field_a_400_refuses(body, refusal):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert refused_parameter(raw) == refusal


def test_a_reply_carries_its_reasoning_and_reasoning_tokens(openai_server):
    openai_server.enqueue(with_reasoning(completion("[[7]]", completion_tokens=90), "thought [[2]]",
                                         reasoning_tokens=60))
    result, meter = chat(openai_server)
    assert (result.text, result.reasoning, result.reasoning_tokens) == ("[[7]]", "thought [[2]]", 60)
    assert meter.completion_tokens == 90  # reasoning tokens are in the completion tokens, not taken out
    openai_server.enqueue(with_reasoning(completion("ok"), "via the other name", field="reasoning"))
    assert chat(openai_server)[0].reasoning == "via the other name"
    assert chat(openai_server)[0].reasoning is None


def test_an_empty_reply_cut_by_the_token_limit_is_not_retried(openai_server):
    # OpenAI's reasoning models keep their thinking to themselves: no content, only a token count.
    openai_server.responder = lambda body: with_reasoning(completion(None, finish_reason="length"),
                                                          reasoning_tokens=7)
    result, meter = chat(openai_server)
    assert not result.ok and result.failure.kind is FailureKind.CUT and result.level is Level.REQUEST
    assert "cut by the token limit" in result.error and "raise --max-tokens" in result.error
    assert len(openai_server.chat_requests) == 1 and meter.attempts == 1
