"""Checks of one JSON field of a record, each raising ``FieldError`` that names the field (pure).

The record types in ``mtbench.core.records`` are built from these; the reader adds the ``file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard, TypeVar

from mtbench.core.jsonl import FieldError

T = TypeVar("T")




def checked(key: str, value: Any, kind: type[T], what: str) -> T:
    # bool is an int subclass; a question_id of true is still wrong.
    if isinstance(value, bool) and kind is not bool:
        raise FieldError(f"field '{key}' must be {what}, got {json.dumps(value)}")
    if not isinstance(value, kind):
        raise FieldError(f"field '{key}' must be {what}, got {describe(value)}")
    return value


def get(obj: Mapping[str, Any], key: str, kind: type[T], what: str) -> T:
    """The required field ``key``, of type ``kind`` (``what`` says it in words for the error)."""
    if key not in obj:
        raise FieldError(f"missing field '{key}'")
    return checked(key, obj[key], kind, what)


def question_id(obj: Mapping[str, Any]) -> int:
    """The record's question_id: an integer, or a string of digits as FastChat forks write it (FastChat's
    loaders call int() on it, so such files read there; ``is_string_id`` lets a reader say it normalized)."""
    value = obj.get("question_id")
    if is_string_id(value):
        return int(value)
    return get(obj, "question_id", int, "an integer")


def is_string_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def get_optional(obj: Mapping[str, Any], key: str, kind: type[T], what: str) -> T | None:
    """The field ``key`` if present and not null, else None."""
    value = obj.get(key)
    return None if value is None else checked(key, value, kind, what)


def describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else type(value).__name__


def string_items(key: str, value: list[Any]) -> tuple[str, ...]:
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FieldError(f"field '{key}' must be a list of strings; item {i} is {describe(item)}")
    return tuple(value)


def strings(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return string_items(key, get(obj, key, list, "a list of strings"))


def optional_strings(obj: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = get_optional(obj, key, list, "a list of strings")
    return None if value is None else string_items(key, value)


def optional_number(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    # int stays int (a score of 7 is written back as 7, not 7.0); bool is refused as above
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(f"field '{key}' must be a number, got {describe(value)}")
    return value


def number_or(obj: Mapping[str, Any], key: str, default: float) -> float:
    value = optional_number(obj, key)
    return default if value is None else value


def extra(obj: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    known = set(known)
    return {k: v for k, v in obj.items() if k not in known}
