"""What one chat call came to: a reply or a typed failure, and how a 200's body becomes one.

The retry rule lives with the failure kinds (``CallFailure.retryable``): transport failures, 408/409/
429/5xx, and a 200 that is no usable completion (not JSON, no choices, null or blank content) are
retried; other statuses are not.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mtbench.core.runner import Level

RETRY_STATUS = {408, 409, 429}


class FailureKind(enum.Enum):
    """Why a call has no reply (a fatal status is no result: it raises ``EndpointFatal``)."""

    TRANSPORT = "transport"  # refused, closed or dropped connection, timeout
    HTTP = "http"  # an error status that is not fatal: 400, 422, 429, 5xx
    MALFORMED = "malformed"  # a 200 that is no completion: not JSON, no choices
    EMPTY = "empty"  # a completion whose content is null or blank
    # ... because the token limit cut it first (finish_reason "length"): a reasoning model that spent the
    # limit thinking. Asking again the same way is cut again, so it is not retried.
    CUT = "cut"


@dataclass(frozen=True)
class CallFailure:
    kind: FailureKind
    reason: str
    status: int | None = None  # the HTTP status of an HTTP failure

    @property
    def retryable(self) -> bool:
        if self.kind is FailureKind.CUT:
            return False
        if self.kind is not FailureKind.HTTP:
            return True
        return self.status is not None and (self.status in RETRY_STATUS or self.status >= 500)

    @property
    def endpoint_down(self) -> bool:
        """The endpoint failed, not this request: no connection, no answer in time, 5xx or 429."""
        if self.kind is FailureKind.TRANSPORT:
            return True
        return self.kind is FailureKind.HTTP and self.status is not None and (self.status >= 500 or self.status == 429)


@dataclass(frozen=True)
class ChatResult:
    """One chat completion: a reply (``failure`` None) or a failure (``text`` "").

    A reply has non-blank ``text`` or non-blank ``reasoning`` (the reply's own reasoning field): a
    reasoning model cut by the token limit while thinking sends no content, and that is its answer.
    """

    text: str = ""
    failure: CallFailure | None = None
    model: str | None = None  # the model name the endpoint reports
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    latency_s: float = 0.0
    attempts: int = 1
    reasoning: str | None = None  # the reply's reasoning_content (or reasoning) field, where it has one
    reasoning_tokens: int | None = None  # usage.completion_tokens_details.reasoning_tokens, where reported
    params: Mapping[str, Any] | None = None  # the request's fields as last sent, model and messages aside
    system_fingerprint: str | None = None  # the backend configuration the endpoint reports, where it does

    def __post_init__(self) -> None:
        replied = bool(self.text.strip() or (self.reasoning or "").strip())
        if (self.failure is None) != replied:
            raise ValueError("a ChatResult is either a non-blank reply or a failure")

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def error(self) -> str | None:
        """Why there is no reply; None exactly when ``ok``."""
        return None if self.failure is None else self.failure.reason

    @property
    def level(self) -> Level:
        """How this call ends an item, for the runner's stop rule."""
        if self.failure is None:
            return Level.OK
        return Level.TRANSPORT if self.failure.endpoint_down else Level.REQUEST

    def usage(self) -> dict[str, Any]:
        """The fields a record keeps about this call (``reasoning_tokens`` only where reported)."""
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 3),
            "attempts": self.attempts,
        }
        if self.reasoning_tokens is not None:
            out["reasoning_tokens"] = self.reasoning_tokens
        return out


def short_text(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters: what a reason quotes of a server's words."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_completion(obj: Any) -> ChatResult:
    """A decoded completion body as a result; a 200 that is no completion is a (retryable) failure."""
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        reason = f"malformed response: no choices in {short_text(json.dumps(obj), 120)}"
        return ChatResult(failure=CallFailure(FailureKind.MALFORMED, reason))
    choice = choices[0]
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details")

    def count(key: str, within: Any = usage) -> int | None:
        value = within.get(key) if isinstance(within, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    model = obj.get("model")
    fingerprint = obj.get("system_fingerprint")
    finish = choice.get("finish_reason")
    common: dict[str, Any] = dict(
        model=model if isinstance(model, str) else None,
        system_fingerprint=fingerprint if isinstance(fingerprint, str) and fingerprint else None,
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        finish_reason=finish if isinstance(finish, str) else None,
        reasoning_tokens=count("reasoning_tokens", details),
    )
    reasoning = _reasoning_field(message)
    if reasoning:
        return ChatResult(text=text if isinstance(text, str) else "", reasoning=reasoning, **common)
    if not isinstance(text, str) or not text.strip():
        said = "null" if text is None else "blank" if isinstance(text, str) else type(text).__name__
        if finish == "length":
            failure = CallFailure(FailureKind.CUT, f"empty reply: the content is {said}, cut by the token limit "
                                  "(finish_reason length; a reasoning model spends it on its thinking: raise --max-tokens)")
            return ChatResult(failure=failure, **common)
        failure = CallFailure(FailureKind.EMPTY, f"empty reply: the content is {said}")
        return ChatResult(failure=failure, **common)
    return ChatResult(text=text, **common)


def _reasoning_field(message: Any) -> str | None:
    """The reasoning a reply carries apart from its content: vLLM's reasoning parsers and DeepSeek say
    ``reasoning_content``, others ``reasoning``; None when blank or absent."""
    if not isinstance(message, dict):
        return None
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


# The client's words for a failure of the connection itself (``mtbench.core.client._transport_reason``).
_TRANSPORT_KINDS = ("connection failed", "connection closed by the server before it replied",
                    "connection dropped mid-reply", "timed out")


def failure_kind(reason: str) -> str:
    """A reason without its details, for counting: 'HTTP 500', 'timed out', 'unparseable', ..."""
    head = reason.split(":", 1)[0].split(" (", 1)[0]
    return "timed out" if head.startswith("timed out") else head


def is_transport_failure(reason: str) -> bool:
    """Whether a recorded failure reason means the endpoint never answered (the TRANSPORT level)."""
    kind = failure_kind(reason)
    if kind in _TRANSPORT_KINDS:
        return True
    status = kind.removeprefix("HTTP ")
    return status != kind and status.isdigit() and (int(status) >= 500 or int(status) == 429)
