"""The one client for OpenAI-compatible endpoints (answers and judgments alike).

One retry policy (exponential backoff with full jitter seeded per process, ``Retry-After`` honoured
when it is a finite number of seconds or an HTTP date, else ignored), one usage meter
(``mtbench.core.runner.UsageMeter``). What is retried: 429, 408, 409 and 5xx, timeouts, refused, closed
and dropped connections, and a 200 that is no usable completion (not JSON, no choices, null or blank
content: a proxy's error page or a server hiccup, as likely to pass on a retry as a 5xx). Other 4xx
are never retried.

A call is a ``ChatResult``: a reply (``ok``, ``text`` non-blank) or a ``CallFailure`` (``text`` is
"", ``error`` says why, ``failure.kind`` says what kind: transport, HTTP status, malformed, empty),
never both. A failure is a value, so a run records it and goes on; ``result.level`` tells the runner
whether it was the endpoint that failed. An error that would fail every request the same way (bad
key, unknown model, wrong URL) raises ``EndpointFatal`` at once, so a bad key stops a run after its
first call, not after thousands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import httpx2
import openai

from mtbench.core.chat_result import CallFailure, ChatResult, FailureKind, parse_completion, short_text
from mtbench.core.cost import estimate_input_tokens
from mtbench.core.endpoint import (
    NO_KEY,
    EndpointConfig,
    RetryPolicy,
)
from mtbench.core.errors import RunFailed
from mtbench.core.rate_limit import RateController
from mtbench.core.request_params import ParamAdapter, Refusal, refused_parameter
from mtbench.core.runner import UsageMeter, run_bounded

__all__ = [
    "CallFailure", "ChatClient", "ChatResult", "EndpointConfig", "EndpointFatal", "FailureKind",
    "RetryPolicy", "UsageMeter", "run_bounded",
]

log = logging.getLogger("mtbench")

FATAL_STATUS = {401: "the API key was refused", 403: "access denied", 404: "not found (wrong base URL or model name)"}


class EndpointFatal(RunFailed):
    """Every request would fail the same way: stop the run now."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait, or None where it says nothing usable (then: normal backoff)."""
    if not headers:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return _finite(float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _finite(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)  # the HTTP-date form
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp() - time.time()


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and secret != NO_KEY else text


class ChatClient:
    """Async chat completions with the shared retry policy. Use one per run, as an async context manager.

    Requests go through the ``openai`` SDK over its aiohttp transport with a connection pool sized to
    the run's concurrency: the SDK's default httpx transport keeps 100 connections alive and costs about
    2.4 ms of CPU per call at 256 in flight, aiohttp about 0.7 ms. Replies are read as bytes and parsed
    once, here, instead of into the SDK's typed objects (the other third of a call's CPU).

    ``adapt_params``: a 400 that refuses ``max_tokens`` or ``temperature`` (reasoning models) is
    answered by resending without it, and remembered for the rest of the run (the judge turns it on).

    ``seed`` fixes the retry jitter (tests); by default each process draws its own, so many runs that
    failed together do not retry on the same schedule.
    """

    def __init__(self, config: EndpointConfig, *, seed: int | None = None, max_connections: int = 100,
                 adapt_params: bool = False):
        self.config = config
        self._adapt = adapt_params
        self.adapter = ParamAdapter()  # what this endpoint refused so far; every request is shaped by it
        self._key = config.api_key()
        self._rng = random.Random(seed)  # None: seeded from os.urandom
        self.meter = UsageMeter()  # every call of this client; the runner's meter counts the same calls per run
        self.rate = RateController(ceiling=max(1, max_connections), base_pause=config.retry.base_delay,
                                   max_pause=config.retry.max_delay)  # pacing shared by every call of the run
        pool = max(100, max_connections)
        self._client = config.sdk_client(
            self._key,
            timeout=config.timeout,
            max_retries=0,  # retries are ours: one policy, counted, with Retry-After honoured
            http_client=openai.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)
            ),
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
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
            reason, timed_out = _transport_reason(e, timeout)
            if timed_out:
                raise EndpointFatal(f"{self.base_url}: no answer within {timeout:g}s") from None
            raise EndpointFatal(_redact(f"cannot reach {self.base_url}: {reason}", self._key)) from None
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

        Raises ``EndpointFatal`` for 401/403/404: those fail every request alike. A client made with
        ``adapt_params`` answers a refused ``max_tokens``/``temperature`` by resending adapted, within
        this call (see ``ParamAdapter``); ``result.params`` says what the last attempt sent.
        """
        requested = {"temperature": temperature, "max_tokens": max_tokens, **extra}
        policy = self.config.retry
        started = time.monotonic()
        attempt = resends = 0
        while True:
            attempt += 1
            params = self.adapter.shape(requested)
            body = {"model": model, "messages": list(messages), "n": 1, **params}
            try:
                result, retry_after, refused = await self._attempt(body)
            except EndpointFatal as e:  # the call was made: "stopped after 1 call", not after 0
                self.meter.add(ChatResult(failure=CallFailure(FailureKind.HTTP, str(e)), attempts=attempt))
                raise
            if refused is not None and self._adapt and self.adapter.learn(refused, params, model):
                resends += 1  # not a retry: the same request, as this endpoint takes it
                continue
            failure = result.failure
            if failure is not None and failure.retryable and attempt - resends <= policy.max_retries:
                wait = self._retry_wait(failure, attempt - resends - 1, retry_after)
                log.debug("retrying in %.2fs after: %s", wait, _redact(failure.reason, self._key))
                await asyncio.sleep(wait)
                continue
            if failure is not None:
                reason = f"{failure.reason} (gave up after {attempt} attempts)" if failure.retryable else failure.reason
                failure = dataclasses.replace(failure, reason=_redact(reason, self._key))
            result = dataclasses.replace(result, failure=failure, latency_s=time.monotonic() - started,
                                         attempts=attempt, params=params)
            self.meter.add(result)
            return result

    async def post_chat_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """One POST /chat/completions of ``body`` as it is (paced, not adapted, not retried), its JSON reply.

        For requests that are not a judge's or an answer's reply (``--force-verdict``'s prompt
        log-probabilities): an HTTP error raises ``openai.APIStatusError``, a reply that is not JSON
        ``ValueError``."""
        raw = await self._post_paced(body)
        reply = json.loads(raw)
        if not isinstance(reply, dict):
            raise ValueError("the reply is not a JSON object")
        return reply

    def _retry_wait(self, failure: CallFailure, retry: int, retry_after: float | None) -> float:
        """A 429 waits in the rate controller's one shared pause, other failures in their own backoff."""
        if failure.status == 429:
            return 0.0
        return self.config.retry.delay(retry, retry_after, self._rng)

    async def _post_paced(self, body: dict[str, Any]) -> bytes:
        """POST /chat/completions when the rate controller allows, telling it what the reply said."""
        tokens = _request_tokens(body)
        ticket = await self.rate.acquire(tokens)
        try:
            response = await self._client.post("/chat/completions", body=body, cast_to=httpx2.Response)
        except openai.APIStatusError as e:
            self.rate.observe(e.status_code, e.response.headers, ticket, _retry_after(e.response.headers))
            raise
        finally:
            await self.rate.release()
        self.rate.observe(response.status_code, response.headers, ticket)
        return response.content

    async def _attempt(self, body: dict[str, Any]) -> tuple[ChatResult, float | None, Refusal | None]:
        """One request: its result, the server's Retry-After where it sent one, and the parameter a 400
        refused where it names one."""
        try:
            raw = await self._post_paced(body)
        except openai.APIStatusError as e:
            status = e.status_code
            detail = short_text(_error_text(e.response.content))
            if status in FATAL_STATUS:
                self._raise_fatal(status, detail)
            failure = CallFailure(FailureKind.HTTP, f"HTTP {status}: {detail}", status)
            refused = refused_parameter(e.response.content) if status == 400 else None
            return ChatResult(failure=failure), _retry_after(e.response.headers), refused
        except openai.APIConnectionError as e:  # APITimeoutError included
            reason, _ = _transport_reason(e, self.config.timeout)
            return ChatResult(failure=CallFailure(FailureKind.TRANSPORT, reason)), None, None
        try:
            obj = json.loads(raw)
        except ValueError as e:  # not JSON, or not UTF-8: a proxy's error page, a cut body
            failure = CallFailure(FailureKind.MALFORMED, f"malformed response: {_json_error(e)}")
            return ChatResult(failure=failure), None, None
        return parse_completion(obj), None, None

    def _raise_fatal(self, status: int, detail: str) -> NoReturn:
        raise EndpointFatal(
            _redact(f"{self.base_url}: HTTP {status}, {FATAL_STATUS[status]}: {short_text(detail)}", self._key)
        ) from None


def _request_tokens(body: dict[str, Any]) -> int:
    """What a provider's token limiter charges a request up front: the prompt estimate plus max_tokens."""
    messages = [{"content": str(m.get("content") or "")} for m in body.get("messages") or []]
    return estimate_input_tokens(messages) + int(body.get("max_tokens") or 0)


def _chain(e: BaseException) -> list[BaseException]:
    links = [e]
    while links[-1].__cause__ is not None and len(links) < 20:
        links.append(links[-1].__cause__)
    return links


def _transport_reason(e: openai.APIConnectionError, timeout: float) -> tuple[str, bool]:
    """What went wrong on the wire, in words, and whether it was a timeout.

    The SDK's class says little: the aiohttp transport reports a refused or closed connection as a
    connect *timeout*, and a body cut short as an HTTP 400 "Not enough data". The root causes decide.
    """
    import aiohttp

    links = _chain(e)
    for link in links:
        if isinstance(link, aiohttp.ServerDisconnectedError):
            return "connection closed by the server before it replied", False
        if isinstance(link, aiohttp.ClientPayloadError):
            got = re.search(r"received \d+ of \d+ bytes", " ".join(map(str, links)))
            return "connection dropped mid-reply" + (f" ({got.group()})" if got else ""), False
    root = links[-1]
    timed_out = isinstance(root, TimeoutError) or (
        isinstance(e, openai.APITimeoutError) and not isinstance(root, OSError)
    )
    if timed_out:
        return f"timed out after {timeout:g}s", True
    return f"connection failed: {short_text(str(root) or type(root).__name__)}", False


def _json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        # its msg may end in " at" ("Unterminated string starting at"): no second "at"
        where = f"line {e.lineno} column {e.colno}"
        return f"not JSON: {e.msg} {where}" if e.msg.endswith(" at") else f"not JSON: {e.msg} at {where}"
    return f"not JSON: {short_text(str(e))}"


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
