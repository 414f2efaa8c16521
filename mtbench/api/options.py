"""Keyword arguments -> the commands' configs: each option named as its flag, built by ``core.options.build``.

``mtbench.judge(judge_model="gpt-4", parallel=4)`` builds the ``JudgeConfig`` that ``mtbench judge
--judge-model gpt-4 --parallel 4`` builds: the same fields, defaults and checks. A keyword is the flag
without its dashes, ``-`` as ``_`` (``--per-category`` is ``per_category``; ``--from`` is ``from_``); a switch whose flag turns a
default-on field off (``--no-progress``) is named by its field and takes True or False. ``evaluate`` takes
``mtbench run``'s flags (``judge_parallel``, ``bootstrap_seed``, ...). Values are Python values: a path
may be a ``str``, a list stands for several values, an enum option takes its text. A mistake is a
``ConfigError`` naming the keyword as the caller spelled it.
"""

from __future__ import annotations

import difflib
import enum
import keyword as python_keywords
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.cli.run_steps import steps_flag_map
from mtbench.core.options import ConfigError, Declared, build, declared

if TYPE_CHECKING:
    from mtbench.pipeline.config import RunConfig

# The API's own parameter, never an option: bars are off unless the call asks (``progress=True``).
NOT_OPTIONS = frozenset({"progress"})


def keyword(d: Declared) -> str:
    """The keyword argument that sets option ``d``."""
    name = d.flag.lstrip("-").replace("-", "_")
    if d.kind is bool and d.default is True and name.startswith("no_"):
        return d.path.rsplit(".", 1)[-1]  # --no-progress fills progress: progress=False
    return name + "_" if python_keywords.iskeyword(name) else name  # --from: from_


def _one(d: Declared, value: Any) -> Any:
    if isinstance(value, str):
        if d.kind is Path:
            return Path(value)
        if d.kind in (int, float) and d.option.parse is None:
            return d.kind(value)
        if d.option.parse is not None or (isinstance(d.kind, type) and issubclass(d.kind, enum.Enum)):
            return d.parse(value)
    if isinstance(value, Path) and d.kind is str:
        return str(value)
    return value


def coerce(d: Declared, value: Any, name: str) -> Any:
    """``value`` as the field holds it (raises ConfigError naming the keyword ``name``)."""
    try:
        if value is None:
            return None
        if d.many and not isinstance(value, (list, tuple)):
            value = (value,)
        if isinstance(value, (list, tuple)) and (d.many or d.option.count):
            values = tuple(_one(d, v) for v in value)
            return d.option.combine(values) if d.option.combine is not None else values
        return _one(d, value)
    except ValueError as e:
        raise ConfigError("{" + name + "} " + str(e)) from None


def _unknown(name: str, known: Iterable[str], what: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return ConfigError(f"{name}: not an option of {what}{hint}")


def renamed(error: ConfigError, name: Mapping[str, str]) -> ConfigError:
    """``error`` naming each field by its keyword (``name``: field path -> keyword)."""
    out = ConfigError(error.render(lambda path: "{" + name.get(path, path) + "}"))
    out.__cause__ = error.__cause__
    return out


def configure(config: type, options: Mapping[str, Any], *, what: str) -> Any:
    """``config`` built from keyword arguments named as its command's flags (see the module docstring)."""
    table = {keyword(d): d for d in declared(config)}
    names = {d.path: k for k, d in table.items()}
    values: dict[str, Any] = {}
    try:
        for key, value in options.items():
            if key not in table or key in NOT_OPTIONS:
                raise _unknown(key, set(table), what)
            values[table[key].path] = coerce(table[key], value, key)
        for d in table.values():
            if d.required and d.path not in values:
                raise ConfigError("{" + d.path + "} is required")
        return build(config, values)
    except ConfigError as e:
        raise renamed(e, names) from e.__cause__


def run_config(options: Mapping[str, Any]) -> RunConfig:
    """``mtbench run``'s ``RunConfig`` from keyword arguments named as run's flags."""
    from mtbench.api.run_flags import run_config_from

    flag_map = steps_flag_map()
    by_keyword = _run_keywords(flag_map)
    names = {path: keyword(flag_map.options[path]) for path in flag_map.flags}
    try:
        typed: dict[str, Any] = {}
        for key, value in options.items():
            check_run_keywords((key,), by_keyword)
            d = by_keyword[key]
            typed[d.flag] = coerce(d, value, key)
        return run_config_from(typed, flag_map)
    except ConfigError as e:
        raise renamed(e, names) from e.__cause__


def _run_keywords(flag_map: Any = None) -> dict[str, Declared]:
    flag_map = flag_map or steps_flag_map()
    by_keyword: dict[str, Declared] = {}
    for path in flag_map.flags:
        by_keyword.setdefault(keyword(flag_map.options[path]), flag_map.options[path])
    return by_keyword


def check_run_keywords(keys: Iterable[str], table: Mapping[str, Declared] | None = None) -> None:
    """ConfigError for the first of ``keys`` that is not one of ``evaluate``'s keyword options."""
    table = table if table is not None else _run_keywords()
    for key in keys:
        if key not in table or key in NOT_OPTIONS:
            raise _unknown(key, set(table), "evaluate (mtbench run's options)")
