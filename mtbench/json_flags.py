"""Flags whose value is a JSON object (``--extra-body``, ``--chat-template-kwargs``): parsed once, at the
CLI, into a dict or a one-line ``UserError`` that names the flag."""

from __future__ import annotations

import json
from typing import Any

from mtbench.errors import UserError


def json_object(flag: str, text: str | None) -> dict[str, Any]:
    """``text`` as a JSON object ({} when the flag was not given)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{flag}: not valid JSON ({e.msg} at character {e.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise UserError(f"{flag} must be a JSON object such as '{{\"key\": \"value\"}}', got {text!r}")
    return value
