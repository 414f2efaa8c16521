"""The one client for OpenAI-compatible endpoints (answers and judgments alike).

One retry policy (exponential backoff with full jitter, ``Retry-After`` honoured, 429/5xx/timeouts/
dropped connections retried, other 4xx never), one bounded-concurrency runner, one usage meter.
A request that still fails is a value (``ChatResult.error``), so a run records it and goes on; an
error that would fail every request the same way (bad key, unknown model, wrong URL) raises
``EndpointFatal`` at once, so a bad key stops a run after its first call, not after thousands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import openai

from mtbench.errors import RunFailed, UserError

log = logging.getLogger("mtbench")

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
# Sent when a self-hosted endpoint (vLLM, transformers serve) needs no key: the SDK insists on one.
NO_KEY = "no-key"
FATAL_STATUS = {401: "the API key was refused", 403: "access denied", 404: "not found (wrong base URL or model name)"}


class EndpointFatal(RunFailed):
    """Every request would fail the same way: stop the run now."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6  # retries after the first attempt
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        A server's ``Retry-After`` wins (it knows its rate window); otherwise full jitter spreads
        many concurrent clients that failed together, so they don't all come back at once.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


@dataclass(frozen=True)
class EndpointConfig:
    """Where to send requests. The key is read from the environment variable named here, never stored."""

    base_url: str | None = None  # None: $OPENAI_BASE_URL, else the OpenAI API
    api_key_env: str = DEFAULT_API_KEY_ENV
    timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def resolved_base_url(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.resolved_base_url():
            return NO_KEY
        raise UserError(
            f"no API key: set ${self.api_key_env} (a self-hosted endpoint given by its base URL needs none)"
        )


@dataclass(frozen=True)
class ChatResult:
    """One chat completion, or why there is none. ``text`` is None exactly when ``error`` is set."""

    text: str | None
    error: str | None = None
    model: str | None = None  # the model name the endpoint reports
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    latency_s: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def usage(self) -> dict[str, Any]:
        """The fields a record keeps about this call."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 3),
            "attempts": self.attempts,
        }


@dataclass
class UsageMeter:
    """Totals over a run: what was called, what it cost in tokens, what failed."""

    calls: int = 0
    attempts: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, result: ChatResult) -> None:
        self.calls += 1
        self.attempts += result.attempts
        self.failures += 0 if result.ok else 1
        self.prompt_tokens += result.prompt_tokens or 0
        self.completion_tokens += result.completion_tokens or 0


@dataclass(frozen=True)
class _Failure:
    """One attempt that failed: why, whether another attempt may succeed, and when the server allows it."""

    reason: str
    retryable: bool
    retry_after: float | None = None


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)  # the HTTP-date form
        return None if when is None else when.timestamp() - time.time()


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and secret != NO_KEY else text


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ChatClient:
    """Async chat completions with the shared retry policy. Use one per run, as an async context manager.

    Requests go through the ``openai`` SDK over its aiohttp transport with a connection pool sized to
    the run's concurrency: the SDK's default httpx transport keeps 100 connections alive and costs about
    2.4 ms of CPU per call at 256 in flight, aiohttp about 0.7 ms. Replies are read as bytes and parsed
    once, here, instead of into the SDK's typed objects (the other third of a call's CPU).
    """

    def __init__(self, config: EndpointConfig, *, seed: int = 0, max_connections: int = 100):
        self.config = config
        self._key = config.api_key()
        self._rng = random.Random(seed)
        self.meter = UsageMeter()
        pool = max(100, max_connections)
        self._client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=config.resolved_base_url(),
            timeout=config.timeout,
            max_retries=0,  # retries are ours: one policy, counted, with Retry-After honoured
            http_client=openai.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)
            ),
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self._client.close()

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def list_models(self, *, timeout: float = 10.0) -> list[str] | None:
        """One GET /models, no retries: the served model ids, or None where the endpoint lists none.

        A cheap preflight before a run fans out. An endpoint that cannot be reached, or refuses the
        key, raises ``EndpointFatal`` here, in seconds, instead of after every retry of every request.
        """
        timeout = min(timeout, self.config.timeout)
        try:
            page = await self._client.with_options(timeout=timeout).models.list()
        except openai.APIStatusError as e:
            if e.status_code in (401, 403):
                self._raise_fatal(e.status_code, _error_text(e.response.content))
            return None  # no listing here (404/405) or a hiccup: the first chat call will tell
        except openai.APIConnectionError as e:  # APITimeoutError included
            if _timed_out(e):
                raise EndpointFatal(f"{self.base_url}: no answer within {timeout:g}s") from None
            raise EndpointFatal(_redact(f"cannot reach {self.base_url}: {_cause(e)}", self._key)) from None
        except (openai.APIResponseValidationError, ValueError):
            return None
        return [m.id for m in getattr(page, "data", None) or [] if getattr(m, "id", None)]

    async def chat(
        self,
        model: str,
        messages: Sequence[dict[str, str]],
        *,
        temperature: float,
        max_tokens: int,
        **extra: Any,
    ) -> ChatResult:
        """One completion. Transient failures are retried; a final failure is returned, not raised.

        Raises ``EndpointFatal`` for 401/403/404: those fail every request alike.
        """
        body = {"model": model, "messages": list(messages), "temperature": temperature,
                "max_tokens": max_tokens, "n": 1, **extra}
        policy = self.config.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(body)
            if isinstance(outcome, _Failure) and outcome.retryable and attempt <= policy.max_retries:
                wait = policy.delay(attempt - 1, outcome.retry_after, self._rng)
                log.debug("retrying in %.2fs after: %s", wait, _redact(outcome.reason, self._key))
                await asyncio.sleep(wait)
                continue
            if isinstance(outcome, _Failure):
                reason = outcome.reason if not outcome.retryable else f"{outcome.reason} (gave up after {attempt} attempts)"
                outcome = ChatResult(text=None, error=_redact(reason, self._key))
            result = dataclasses.replace(outcome, latency_s=time.monotonic() - started, attempts=attempt)
            self.meter.add(result)
            return result

    async def _attempt(self, body: dict[str, Any]) -> ChatResult | _Failure:
        try:
            raw = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        except openai.APIStatusError as e:
            status = e.status_code
            detail = _short(_error_text(e.response.content))
            if status in FATAL_STATUS:
                self._raise_fatal(status, detail)
            retryable = status == 408 or status == 409 or status == 429 or status >= 500
            return _Failure(f"HTTP {status}: {detail}", retryable, _retry_after(e.response.headers))
        except openai.APIConnectionError as e:  # APITimeoutError included
            if _timed_out(e):
                return _Failure(f"timed out after {self.config.timeout:g}s", True)
            return _Failure(f"connection failed: {_cause(e)}", True)
        try:
            obj = json.loads(raw)
        except ValueError as e:  # not JSON, or not UTF-8: a proxy's error page, a cut body
            return _Failure(f"malformed response: {_short(str(e))}", True)
        return _parse_response_json(obj)

    def _raise_fatal(self, status: int, detail: str):
        raise EndpointFatal(
            _redact(f"{self.base_url}: HTTP {status}, {FATAL_STATUS[status]}: {_short(detail)}", self._key)
        ) from None


def _root(e: BaseException) -> BaseException:
    while e.__cause__ is not None:
        e = e.__cause__
    return e


def _timed_out(e: openai.APIConnectionError) -> bool:
    """Whether the endpoint was reached but did not answer in time. The aiohttp transport reports a
    refused connection as a connect *timeout*, so the root cause decides, not the SDK's class."""
    root = _root(e)
    if isinstance(root, TimeoutError):  # asyncio's and aiohttp's socket timeouts alike
        return True
    return isinstance(e, openai.APITimeoutError) and not isinstance(root, OSError)


def _cause(e: Exception) -> str:
    root = _root(e)
    return _short(str(root) or type(root).__name__)


def _error_text(raw: bytes) -> str:
    """The message of an error body: OpenAI's {"error": {"message": ...}}, else the text itself."""
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return text


def _parse_response_json(obj: Any) -> ChatResult:
    """A decoded completion body as a result; a 200 that is no completion is a failure value."""
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return ChatResult(text=None, error=f"malformed response: no choices in {_short(json.dumps(obj), 120)}")
    choice = choices[0]
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}

    def count(key: str) -> int | None:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    model = obj.get("model")
    common = dict(
        model=model if isinstance(model, str) else None,
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        finish_reason=choice.get("finish_reason"),
    )
    if not isinstance(text, str) or not text.strip():
        return ChatResult(text=None, error="empty reply", **common)
    return ChatResult(text=text, **common)


# ---------------------------------------------------------------------------------------------------
# bounded concurrency: the one place runs fan out

T = TypeVar("T")
U = TypeVar("U")


async def run_bounded(
    items: Iterable[T],
    work: Callable[[T], Awaitable[U]],
    *,
    parallel: int,
) -> AsyncIterator[tuple[T, U]]:
    """Run ``work`` over ``items`` with at most ``parallel`` in flight; yield (item, result) as each ends.

    Results come in completion order, so the caller can write each one the moment it exists. An
    exception from ``work`` (e.g. ``EndpointFatal``) cancels everything still running and propagates.
    """
    if parallel < 1:
        raise UserError(f"--parallel must be at least 1, got {parallel}")
    iterator = iter(items)
    pending: dict[asyncio.Task, T] = {}

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
