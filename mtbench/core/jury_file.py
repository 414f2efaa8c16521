"""A jury file (TOML): the judges of one run, each with its own endpoint or local model.

    [[judge]]
    name = "gpt-4o-mini"                    # the model name sent; names its judgment file
    base_url = "https://api.openai.com/v1"  # optional: the run's --judge-base-url otherwise
    api_key_env = "OPENAI_API_KEY"          # optional: the run's --judge-api-key-env otherwise
    extra_body = { temperature_hint = 1 }   # optional: the run's --judge-extra-body otherwise
    price_input = 0.15                      # optional: USD per 1M tokens (the built-in table otherwise)
    price_output = 0.60
    parallel = 16                           # optional: requests in flight for this judge (--parallel)

    [[judge]]
    path = "/models/Qwen2.5-7B-Instruct"    # a local judge, loaded in this process
    engine = "vllm"                         # hf (default) or vllm; name: the folder's name unless given

Parsing only (frozen records, nothing called or loaded); every problem is one line naming the file and
the judge's key. ``JudgeConfig.jurors`` turns each judge into a judging run's config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from mtbench.core.bench import judge_file_stem
from mtbench.core.errors import UserError
from mtbench.core.request_params import RESERVED_FIELDS

_TEXT_KEYS = ("name", "base_url", "api_key_env", "path", "engine", "gguf_file")
_PRICE_KEYS = ("price_input", "price_output")
KEYS = (*_TEXT_KEYS, "extra_body", *_PRICE_KEYS, "parallel")


@dataclass(frozen=True)
class Juror:
    """One judge of a jury file, as written (what it leaves out, the run's flags give)."""

    name: str | None = None  # the model name sent; a local judge's defaults to its folder's name
    base_url: str | None = None
    api_key_env: str | None = None
    extra_body: Mapping[str, Any] | None = field(default=None, compare=False)
    price_input: float | None = None
    price_output: float | None = None
    parallel: int | None = None
    path: str | None = None  # a local judge
    engine: str | None = None
    gguf_file: str | None = None

    @property
    def local(self) -> bool:
        return self.path is not None


def _juror(where: str, entry: object) -> Juror:
    if not isinstance(entry, dict):
        raise UserError(f"{where}: a [[judge]] table, got {type(entry).__name__}")
    unknown = [k for k in entry if k not in KEYS]
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(KEYS)})")
    values: dict[str, Any] = {}
    for key in _TEXT_KEYS:
        if key in entry:
            value = entry[key]
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"{where}: {key} must be a non-empty string, got {value!r}")
            values[key] = value
    for key in _PRICE_KEYS:
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UserError(f"{where}: {key} must be a number of USD per 1M tokens, 0 or more, got {value!r}")
            values[key] = float(value)
    if "parallel" in entry:
        value = entry["parallel"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{where}: parallel must be an integer, at least 1, got {value!r}")
        values["parallel"] = value
    if "extra_body" in entry:
        body = entry["extra_body"]
        if not isinstance(body, dict):
            raise UserError(f"{where}: extra_body must be a table of request fields, got {body!r}")
        reserved = [k for k in RESERVED_FIELDS if k in body]
        if reserved:
            raise UserError(f"{where}: extra_body may not set {', '.join(reserved)}: mtbench sets those itself")
        values["extra_body"] = body
    juror = Juror(**values)
    if juror.path is None:
        if juror.name is None:
            raise UserError(f"{where}: name is missing (the judge model's name), or give path for a local judge")
        for key in ("engine", "gguf_file"):
            if getattr(juror, key) is not None:
                raise UserError(f"{where}: {key} is for a local judge; add path or drop {key}")
    elif juror.base_url is not None or juror.api_key_env is not None or juror.extra_body is not None:
        key = next(k for k in ("base_url", "api_key_env", "extra_body") if getattr(juror, k) is not None)
        raise UserError(f"{where}: {key}: a local judge (path) is not called over HTTP; drop one of them")
    return juror


def local_name(juror: Juror) -> str:
    """A local judge's name when the file gives none: its GGUF file's stem, else its folder's name."""
    if juror.name:
        return juror.name
    if juror.gguf_file:
        return Path(juror.gguf_file).name.removesuffix(".gguf")
    path = juror.path or ""
    return Path(path.rstrip("/")).name or path


def load_jury(path: Path) -> tuple[Juror, ...]:
    """The judges of the jury file at ``path``, in file order (at least two, distinct judgment files)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"jury file {path} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"jury file {path}: cannot read it: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML: {e}") from None
    unknown = [k for k in data if k != "judge"]
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r}: a jury file holds [[judge]] tables only")
    entries = data.get("judge")
    if not isinstance(entries, list) or len(entries) < 2:
        count = len(entries) if isinstance(entries, list) else 0
        raise UserError(f"{path}: a jury needs at least two [[judge]] tables, got {count}")
    jurors = tuple(_juror(f"{path}: judge {i}", entry) for i, entry in enumerate(entries, 1))
    seen: dict[str, int] = {}
    for i, juror in enumerate(jurors, 1):
        stem = judge_file_stem(local_name(juror))
        if stem in seen:
            raise UserError(f"{path}: judge {i}: name {local_name(juror)!r} is judge {seen[stem]}'s too (each "
                            "judge writes its own file, named by its name): give it another name")
        seen[stem] = i
    return jurors


def jury_names(path: Path) -> tuple[str, ...]:
    """The judges' names (what names their judgment files), in file order."""
    return tuple(local_name(j) for j in load_jury(path))
