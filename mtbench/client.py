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

import openai
from openai.types.chat import ChatCompletion

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
            f"no API key: set ${self.api_key_env} (or point --base-url at a server that needs none)"
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
    """Async chat completions with the shared retry policy. Use one per run, as an async context manager."""

    def __init__(self, config: EndpointConfig, *, seed: int = 0, max_connections: int | None = None):
        self.config = config
        self._key = config.api_key()
        self._rng = random.Random(seed)
        self.meter = UsageMeter()
        self._client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=config.resolved_base_url(),
            timeout=config.timeout,
            max_retries=0,  # retries are ours: one policy, counted, with Retry-After honoured
        )
        # Opt-in (callers that keep hundreds of requests in flight): chat calls over one pooled aiohttp
        # session instead of the SDK, same request body and failure classes, a quarter of the CPU per call.
        self._pooled = None if max_connections is None else _PooledChat(
            self.base_url, self._key, config.timeout, max_connections
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self._client.close()
        if self._pooled is not None:
            await self._pooled.close()

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def list_models(self, *, timeout: float = 10.0) -> list[str] | None:
        """One GET /models, no retries: the served model ids, or None where the endpoint lists none.

        A cheap preflight before a run fans out. An endpoint that cannot be reached, or refuses the
        key, raises ``EndpointFatal`` here, in seconds, instead of after every retry of every request.
        """
        try:
            page = await self._client.with_options(timeout=min(timeout, self.config.timeout)).models.list()
        except openai.APIStatusError as e:
            if e.status_code in (401, 403):
                raise EndpointFatal(_redact(
                    f"{self.base_url}: HTTP {e.status_code}, {FATAL_STATUS[e.status_code]}: "
                    f"{_short(_error_message(e))}", self._key)) from None
            return None  # no listing here (404/405) or a hiccup: the first chat call will tell
        except openai.APITimeoutError:
            raise EndpointFatal(f"{self.base_url}: no answer within {min(timeout, self.config.timeout):g}s") from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            raise EndpointFatal(_redact(
                f"cannot reach {self.base_url}: {_short(str(cause) or type(cause).__name__)}", self._key)) from None
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
        policy = self.config.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(model, messages, temperature, max_tokens, extra)
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

    async def _attempt(self, model, messages, temperature, max_tokens, extra) -> ChatResult | _Failure:
        if self._pooled is not None:
            body = {"model": model, "messages": list(messages), "temperature": temperature,
                    "max_tokens": max_tokens, "n": 1, **extra}
            return await self._attempt_pooled(body)
        try:
            # The SDK's documented low-level post: the same request as chat.completions.create, without
            # its per-call walk of the params' TypedDict annotations (a third of a call's CPU at scale).
            response = await self._client.post(
                "/chat/completions",
                body={
                    "model": model,
                    "messages": list(messages),
                    "temperature": temperature,
                    "max_tokens": max_tokens,
                    "n": 1,
                    **extra,
                },
                cast_to=ChatCompletion,
            )
        except openai.APIStatusError as e:
            status = e.status_code
            detail = _short(_error_message(e))
            if status in FATAL_STATUS:
                raise EndpointFatal(
                    _redact(f"{self.base_url}: HTTP {status}, {FATAL_STATUS[status]}: {detail}", self._key)
                ) from None
            retryable = status == 408 or status == 409 or status == 429 or status >= 500
            return _Failure(f"HTTP {status}: {detail}", retryable, _retry_after(e.response.headers))
        except openai.APITimeoutError:
            return _Failure(f"timed out after {self.config.timeout:g}s", True)
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            return _Failure(f"connection failed: {_short(str(cause) or type(cause).__name__)}", True)
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError) as e:
            return _Failure(f"malformed response: {_short(str(e))}", True)
        return _parse_response(response)

    async def _attempt_pooled(self, body: dict[str, Any]) -> ChatResult | _Failure:
        import aiohttp

        try:
            status, headers, raw = await self._pooled.post(body)
        except (asyncio.TimeoutError, TimeoutError):  # before ClientError: aiohttp's timeouts are both
            return _Failure(f"timed out after {self.config.timeout:g}s", True)
        except aiohttp.ClientError as e:
            return _Failure(_redact(f"connection failed: {_short(str(e) or type(e).__name__)}", self._key), True)
        if status >= 400:
            detail = _short(_error_text(raw))
            if status in FATAL_STATUS:
                raise EndpointFatal(
                    _redact(f"{self.base_url}: HTTP {status}, {FATAL_STATUS[status]}: {detail}", self._key)
                ) from None
            retryable = status == 408 or status == 409 or status == 429 or status >= 500
            return _Failure(f"HTTP {status}: {detail}", retryable, _retry_after(headers))
        try:
            obj = json.loads(raw)
        except ValueError as e:  # not JSON, or not UTF-8
            return _Failure(f"malformed response: {_short(str(e))}", True)
        return _parse_response_json(obj)


class _PooledChat:
    """POST {base_url}/chat/completions over one aiohttp session with a connection pool sized to the
    concurrency. The SDK spends ~1 ms of CPU per call building and parsing typed objects (and httpx's pool
    scans every connection per request); this path ~0.25 ms, so one process keeps 256 requests of 200 ms
    in flight. The key goes only into the Authorization header."""

    def __init__(self, base_url: str, key: str, timeout: float, max_connections: int):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
            if os.environ.get(env):
                self.headers[header] = os.environ[env]
        self.timeout = timeout
        self.limit = max(100, max_connections)
        self._session = None

    async def post(self, body: dict[str, Any]) -> tuple[int, Any, bytes]:
        import aiohttp

        if self._session is None:  # made inside the running loop, on first use
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit),
                # As the SDK's timeout: per connect and per read, not for the whole exchange.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout),
            )
        async with self._session.post(self.url, data=json.dumps(body), headers=self.headers) as response:
            return response.status, response.headers, await response.read()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


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
    """``_parse_response`` for a decoded JSON body (the pooled path)."""
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


def _error_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return e.message or ""


def _parse_response(response: Any) -> ChatResult:
    # A proxy that answers 200 with a non-JSON or non-completion body: the SDK hands back what it got.
    choices = getattr(response, "choices", None)
    if not choices:
        return ChatResult(text=None, error=f"malformed response: no choices in {_short(str(response), 120)}")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    usage = getattr(response, "usage", None)
    common = dict(
        model=getattr(response, "model", None),
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        finish_reason=getattr(choice, "finish_reason", None),
    )
    if text is None or not str(text).strip():
        return ChatResult(text=None, error="empty reply", **common)
    return ChatResult(text=str(text), **common)


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
