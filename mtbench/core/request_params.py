"""The request fields an endpoint takes: adapting to a model that refuses ``max_tokens``, ``temperature``
or ``seed``.

OpenAI's reasoning models (o-series, gpt-5) answer a request that carries ``max_tokens`` with HTTP 400
``unsupported_parameter`` ("Use 'max_completion_tokens' instead"), and one with ``temperature`` 0 with
``unsupported_value`` (only the default 1) or ``unsupported_parameter``. Such a refusal would fail every
request alike, so it is learnt once, from the first request, and every later request is shaped by it:
``max_tokens`` becomes ``max_completion_tokens``, ``temperature`` is left out. Likewise ``seed`` (sent by
``judge --judge-samples``), which some endpoints refuse as ``unsupported_parameter``: it is left out, and
the samples differ by the judge's own randomness only. Nothing else is adapted: a
refused field the user chose (``--judge-extra-body``) stays a failure the user must fix.

Also here: ``--judge-extra-body`` / ``--extra-body`` JSON, parsed once into the fields it adds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mtbench.core.errors import UserError
from mtbench.core.json_flags import json_object

log = logging.getLogger("mtbench")

UNSUPPORTED_PARAMETER = "unsupported_parameter"
UNSUPPORTED_VALUE = "unsupported_value"
# Which refusal of which field a resend can answer.
ADAPTABLE: dict[str, frozenset[str]] = {
    "max_tokens": frozenset({UNSUPPORTED_PARAMETER}),
    "temperature": frozenset({UNSUPPORTED_PARAMETER, UNSUPPORTED_VALUE}),
    "seed": frozenset({UNSUPPORTED_PARAMETER}),
}
# Fields a resend leaves out once refused (max_tokens is renamed instead).
DROPPABLE = ("temperature", "seed")
# Fields the client sets itself: an extra body may not replace them.
RESERVED_FIELDS = ("model", "messages", "n", "stream")
_MESSAGE = re.compile(r"Unsupported (parameter|value): '([^']+)'")


@dataclass(frozen=True)
class Refusal:
    """A 400 that names the request field it refused, and how (``unsupported_parameter``/``_value``)."""

    param: str
    code: str


def refused_parameter(raw: bytes) -> Refusal | None:
    """The field an error body refuses, OpenAI's ``{"error": {"param": ..., "code": ...}}``; a proxy that
    keeps only the message ("Unsupported parameter: 'max_tokens' ...") is read from its words."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    param, code, message = error.get("param"), error.get("code"), error.get("message")
    words = _MESSAGE.match(message) if isinstance(message, str) else None
    if not isinstance(param, str) or not param:
        param = words.group(2) if words else None
    if code not in (UNSUPPORTED_PARAMETER, UNSUPPORTED_VALUE):
        code = f"unsupported_{words.group(1)}" if words else None
    return Refusal(param, code) if param and code else None


class ParamAdapter:
    """What one endpoint refused so far, and the request fields shaped by it. One per client, so a run
    learns a refusal once; the event loop is the client's only thread, so no lock."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.changes: list[str] = []  # one line per adaptation, as logged

    def shape(self, requested: Mapping[str, Any]) -> dict[str, Any]:
        """The fields to send for ``requested``, adapted to what this endpoint refused."""
        params = dict(requested)
        if "max_completion_tokens" in params or "max_tokens" in self.refused:
            # A user's own max_completion_tokens (an extra body) is the limit: never send both.
            value = params.pop("max_tokens", None)
            if value is not None:
                params.setdefault("max_completion_tokens", value)
        for name in DROPPABLE:
            if name in self.refused:
                params.pop(name, None)
        return params

    def learn(self, refusal: Refusal, sent: Mapping[str, Any], model: str) -> bool:
        """Whether a resend, shaped anew, answers ``refusal`` of the request that sent ``sent``.

        The first refusal of a field is logged, one line; a request already in flight when it was
        learnt is resent without a second line.
        """
        if refusal.param not in sent or refusal.code not in ADAPTABLE.get(refusal.param, ()):
            return False
        if refusal.param not in self.refused:
            self.refused.add(refusal.param)
            if refusal.param == "max_tokens":
                change = f"sending max_completion_tokens={sent['max_tokens']} instead"
            elif refusal.param == "seed":
                change = "sending no seed (repeated samples differ by the model's own randomness only)"
            else:
                change = f"sending no temperature (the model's default) instead of {_number(sent['temperature'])}"
            line = f"{model} refuses {refusal.param} (HTTP 400 {refusal.code}): {change}, for the rest of this run"
            self.changes.append(line)
            log.warning("%s", line)
        return True


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else repr(value)


def extra_body_from_json(text: str | None, flag: str) -> dict[str, Any]:
    """The request fields a ``flag`` JSON object adds (``{"reasoning_effort": "high"}``); {} for None.

    Not JSON, not an object, or a field the client sets itself: a one-line UserError naming the flag.
    """
    value = json_object(flag, text)
    reserved = [k for k in RESERVED_FIELDS if k in value]
    if reserved:
        raise UserError(f"{flag} may not set {', '.join(reserved)}: mtbench sets those itself")
    return value
