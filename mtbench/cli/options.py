"""argparse generated from the configs' option declarations (``mtbench.core.options``).

Every flag is added with ``default=SUPPRESS``: the parsed namespace holds only what the user typed, the
config's own default fills the rest, so a default has one home and a command knows what was given. Each
flag's dest is the flag itself; a ``FlagMap`` says which config field each flag fills, so ``mtbench run``
can give one flag (``--data-dir``) to several steps and rename another (``--judge-parallel``) as data.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.core.options import ConfigError, Declared, Spelling, build, declared


@dataclass
class FlagMap:
    """Field path -> flag, for the configs one parser fills (a path may carry a step's prefix)."""

    flags: dict[str, str] = field(default_factory=dict)
    options: dict[str, Declared] = field(default_factory=dict)

    def flag(self, path: str) -> str:
        """The flag a user knows a field by; a field with no flag keeps its path."""
        return self.flags.get(path, path)

    def render(self, error: ConfigError) -> str:
        return error.render(self.flag)


def _argparse_type(d: Declared) -> Any:
    """argparse's own type for plain numbers and paths (its messages name the flag); the rest stays text
    until ``given`` parses it, so an option's own parser reports as ``--flag what is wrong``."""
    if d.option.parse is None and d.kind in (int, float, Path):
        return d.kind
    return None


def help_text(d: Declared) -> str:
    default = d.default_text()
    return d.option.help + (f" (default: {default})" if default else "")


def add_declared(parser: argparse.ArgumentParser, options: Iterable[Declared], flag_map: FlagMap,
                 *, prefix: str = "", groups: dict[str, Any] | None = None, optional: Iterable[str] = (),
                 title: str | None = None) -> None:
    """Add each option to ``parser`` (once per flag; a flag already there is shared, not added again).

    An option whose field has no default is required, unless its flag is in ``optional`` (a command that
    fills it another way). ``title``: the --help section of the options that name none of their own.
    """
    optional = set(optional)
    groups = {} if groups is None else groups
    taken = {a for action in parser._actions for a in action.option_strings}
    for d in options:
        flag_map.flags[prefix + d.path] = d.flag
        flag_map.options[prefix + d.path] = d
        if d.flag in taken:
            continue
        taken.update(d.flags)
        target: Any = parser
        if section := d.group or title:
            if section not in groups:
                groups[section] = parser.add_argument_group(section, d.group_help if d.group else None)
            target = groups[section]
        common: dict[str, Any] = {"dest": d.flag, "default": argparse.SUPPRESS, "help": help_text(d)}
        if d.required and d.flag not in optional:
            common["required"] = True
        if d.kind is bool and d.option.negative:
            both = target.add_mutually_exclusive_group()
            both.add_argument(*d.flags, action="store_const", const=True, **common)
            both.add_argument(d.option.negative, action="store_const", const=False, dest=d.flag,
                              default=argparse.SUPPRESS, help=f"the opposite of {d.flag}")
            taken.add(d.option.negative)
        elif not d.flag.startswith("-"):
            # A positional (repair's FILE ...): its name is the dest, as argparse wants; no default, given.
            target.add_argument(d.flag, type=_argparse_type(d), choices=d.choices, nargs="+" if d.many else None,
                                help=d.option.help)
        elif d.kind is bool:
            target.add_argument(*d.flags, action="store_false" if d.default is True else "store_true", **common)
        else:
            # A tuple metavar names each of a fixed number of values (--compare A B).
            fixed = d.option.count or (len(d.option.metavar) if isinstance(d.option.metavar, tuple) else None)
            nargs = fixed or ("+" if d.many else None)
            target.add_argument(*d.flags, type=_argparse_type(d), choices=d.choices, metavar=d.metavar,
                                nargs=nargs, **common)


def add_config_options(parser: argparse.ArgumentParser, config: type, flag_map: FlagMap, *,
                       prefix: str = "", renames: Mapping[str, Spelling] | None = None,
                       skip: Iterable[str] = (), optional: Iterable[str] = (), title: str | None = None) -> None:
    """The options of ``config`` as flags of ``parser`` (``renames`` and ``skip`` by field path)."""
    skipped = tuple(skip)
    options = [d for d in declared(config, flags=renames)
               if not any(d.path == s or d.path.startswith(s + ".") for s in skipped)]
    add_declared(parser, options, flag_map, prefix=prefix, optional=optional, title=title)


def given(args: argparse.Namespace | Mapping[str, Any], flag_map: FlagMap, prefix: str = "") -> dict[str, Any]:
    """What the user typed for the fields under ``prefix``, by field path relative to it (``args``: the
    parsed namespace, or flag -> value)."""
    typed = args if isinstance(args, Mapping) else vars(args)
    out: dict[str, Any] = {}
    for path, flag in flag_map.flags.items():
        if path.startswith(prefix) and flag in typed:
            out[path[len(prefix):]] = _typed(flag_map.options[path], typed[flag])
    return out


def _typed(d: Declared, value: Any) -> Any:
    try:
        if isinstance(value, list):
            values = tuple(_typed(d, v) for v in value)
            return d.option.combine(values) if d.option.combine is not None else values
        if not isinstance(value, str) or _argparse_type(d) is not None:
            return value
        return d.parse(value)
    except ValueError as e:
        raise ConfigError("{" + d.path + "} " + str(e)) from None


def config_from(config: type, args: argparse.Namespace, flag_map: FlagMap, *, prefix: str = "",
                **fixed: Any) -> Any:
    """``config`` built from the typed flags (``fixed``: values the command sets, by field path)."""
    try:
        return build(config, {**given(args, flag_map, prefix), **fixed})
    except ConfigError as e:
        raise e.within(prefix.rstrip(".")) from e.__cause__


def config_class(spec: str) -> type:
    """The class a ``"module:Class"`` spec names (imported now: a command's library loads when it runs)."""
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def add_command_options(parser: argparse.ArgumentParser, spec: str) -> None:
    """A command's flags: its config's declared options (``spec``: ``"module:Class"``)."""
    config = config_class(spec)
    flag_map = FlagMap()
    add_config_options(parser, config, flag_map)
    parser.set_defaults(flag_map=flag_map, config_class=config)


def command_config(args: argparse.Namespace) -> Any:
    """The command's config, built from the flags typed (see ``add_command_options``)."""
    return config_from(args.config_class, args, args.flag_map)
