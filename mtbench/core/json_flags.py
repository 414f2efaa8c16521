"""Options whose value is a JSON object (``--extra-body``, ``--judge-extra-body``, ``--chat-template-kwargs``):
parsed once, into a dict, or a ``ValueError`` saying what is wrong (the caller names the option)."""

from __future__ import annotations

import json
from typing import Any


def json_object(text: str, example: str = '{"reasoning_effort": "high"}') -> dict[str, Any]:
    """``text`` as a JSON object; ``example`` shows the shape in errors."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"must be a JSON object, e.g. '{example}': {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, e.g. '{example}'; got {text!r}")
    return value


def chat_template_kwargs(text: str) -> dict[str, Any]:
    """``--chat-template-kwargs``: keyword arguments for the tokenizer's chat template."""
    return json_object(text, '{"enable_thinking": true}')
