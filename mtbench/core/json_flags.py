"""Flags whose value is a JSON object (``--extra-body``, ``--judge-extra-body``, ``--chat-template-kwargs``):
parsed once, at the CLI, into a dict or a one-line ``UserError`` that names the flag."""

from __future__ import annotations

import json
from typing import Any

from mtbench.core.errors import UserError


def json_object(flag: str, text: str | None, example: str = '{"reasoning_effort": "high"}') -> dict[str, Any]:
    """``text`` as a JSON object ({} when the flag was not given); ``example`` shows the shape in errors."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UserError(f"{flag} must be a JSON object, e.g. '{example}': {e}") from None
    if not isinstance(value, dict):
        raise UserError(f"{flag} must be a JSON object, e.g. '{example}'; got {text!r}")
    return value
