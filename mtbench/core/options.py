"""Options declared once, on the config field they fill: flag, help, default, parse and check.

A config is a frozen dataclass. A field a user can set carries ``option(...)``; a field holding another
config whose options are the parent's too carries ``nested(...)``. The command line
(``mtbench.cli.options``), ``--help`` and the docs' flag tables are generated from these declarations, and
the dataclass default is the only default: nothing restates a flag's name, type or default.

Errors speak in fields: ``ConfigError("{parallel} must be at least 1, got 0")``. Whoever shows one names
each field as its user knows it: the library as the field's path (``parallel``), the command line as
the flag the user typed (``--parallel``, or ``--judge-parallel`` under ``mtbench run``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mtbench.core.errors import UserError

Spelling = str | tuple[str, ...]  # a flag, or a flag and its aliases
OPTION = "mtbench.option"
NESTED = "mtbench.nested"
_FIELD_REF = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\}")


class ConfigError(UserError):
    """A bad value, named by its field path inside ``{...}`` so each front end can say it its own way."""

    def __init__(self, template: str):
        self.template = template
        super().__init__(self.render(lambda path: path))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(_FIELD_REF.findall(self.template))

    def render(self, name: Callable[[str], str]) -> str:
        return _FIELD_REF.sub(lambda m: name(m.group(1)), self.template)

    def within(self, prefix: str) -> ConfigError:
        """The same error seen from the config that holds this one under the field ``prefix``."""
        if not prefix:
            return self
        # type(self): a subclass's exit code (``JudgeCannotJudge``: exit 1) survives the move.
        moved = type(self)(_FIELD_REF.sub(lambda m: "{" + f"{prefix}.{m.group(1)}" + "}", self.template))
        moved.__cause__ = self.__cause__
        return moved


@dataclass(frozen=True)
class Option:
    """How a user sets one field. Everything not given is derived from the field (name, type, default)."""

    help: str
    flag: str | None = None  # default: --field-name
    aliases: tuple[str, ...] = ()  # further spellings of the same flag (FastChat's, for one)
    metavar: str | tuple[str, ...] | None = None
    parse: Callable[[str], Any] | None = None  # text -> value; default: from the field's type
    choices: tuple[str, ...] | None = None  # default: an enum field's values
    negative: str | None = None  # a ``bool | None`` field: the flag that sets False (the flag sets True)
    default_help: str | None = None  # the default as --help states it, where the value alone would mislead
    group: str | None = None  # a titled section of --help
    count: int | None = None  # exactly this many values (a tuple-valued field takes one or more by default)
    combine: Callable[[tuple[Any, ...]], Any] | None = None  # the values of a ``count`` option -> the field's value


@dataclass(frozen=True)
class Nested:
    """A field holding another config; its options join the parent's, under per-use flag names."""

    flags: Mapping[str, Spelling]  # nested field path -> flag(s), where this use names it differently
    key: str | None = None  # an optional config exists only where this field of it is given
    group: str | None = None
    group_help: str | None = None


def option(default: Any = dataclasses.MISSING, *, help: str, default_factory: Any = dataclasses.MISSING,
           compare: bool = True, **how: Any) -> Any:
    """A dataclass field a user sets (see ``Option``)."""
    return dataclasses.field(default=default, default_factory=default_factory, compare=compare,
                             hash=None if compare else False, metadata={OPTION: Option(help=help, **how)})


def nested(*, flags: Mapping[str, Spelling] | None = None, key: str | None = None, group: str | None = None,
           group_help: str | None = None, default: Any = dataclasses.MISSING,
           default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field holding another config whose options are the parent's too (see ``Nested``)."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={NESTED: Nested(dict(flags or {}), key, group, group_help)})


@dataclass(frozen=True)
class Declared:
    """One option as a front end sees it: where it lands (path), how it is spelled and parsed."""

    path: str  # dotted field path from the top config
    flag: str
    option: Option
    kind: type  # the value type, None and containers stripped (int, float, str, Path, bool, an enum)
    many: bool  # a tuple: one or more values
    nullable: bool  # None is a value of the field
    default: Any  # dataclasses.MISSING where the field must be given
    group: str | None
    group_help: str | None
    aliases: tuple[str, ...] = ()
    required: bool = False  # no default, and not inside a config that exists only when given

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, *self.aliases)

    @property
    def metavar(self) -> str | tuple[str, ...] | None:
        """How --help names the value: the declared one, else the flag's name (choices show themselves)."""
        if self.kind is bool or self.choices is not None or self.option.count:
            return self.option.metavar
        return self.option.metavar or self.flag.lstrip("-").replace("-", "_").upper()

    @property
    def choices(self) -> tuple[str, ...] | None:
        if self.option.choices is not None:
            return self.option.choices
        if isinstance(self.kind, type) and issubclass(self.kind, enum.Enum):
            return tuple(str(m.value) for m in self.kind)
        return None

    def default_text(self) -> str | None:
        """The default as --help and the docs state it; None where there is nothing to state."""
        if self.option.default_help is not None:
            return self.option.default_help
        value = self.default
        if value is dataclasses.MISSING or value is None or self.kind is bool:
            return None
        if isinstance(value, enum.Enum):
            return str(value.value)
        if isinstance(value, (tuple, dict)):
            return " ".join(map(str, value)) or None
        if isinstance(value, float) and value.is_integer():
            return f"{value:g}"
        return str(value)

    def parse(self, text: str) -> Any:
        """A typed value from the text a user gave (raises ValueError with a short reason). Plain numbers
        and paths are argparse's to parse (``mtbench.cli.options``), so its messages name the flag."""
        if self.option.parse is not None:
            return self.option.parse(text)
        if isinstance(self.kind, type) and issubclass(self.kind, enum.Enum):
            return self.kind(text)
        return text


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """(value type, many, optional) of a field's type hint."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else str
        origin = typing.get_origin(hint)
    if origin is tuple:
        return typing.get_args(hint)[0], True, optional
    return hint, False, optional


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def declared(config: type, *, flags: Mapping[str, Spelling] | None = None, prefix: str = "",
             group: tuple[str | None, str | None] = (None, None), optional: bool = False) -> Iterator[Declared]:
    """Every option of ``config`` and of the configs nested in it, in field order.

    ``flags`` renames options by path (relative to ``config``); a nested field's own renames apply
    beneath it, and the caller's win over them.
    """
    flags = dict(flags or {})
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        path = f"{prefix}{f.name}"
        if (how := f.metadata.get(NESTED)) is not None:
            inner, _, _ = _unwrap(hints[f.name])
            renames = {**how.flags, **{k[len(f.name) + 1:]: v for k, v in flags.items()
                                      if k.startswith(f.name + ".")}}
            yield from declared(inner, flags=renames, prefix=f"{path}.", optional=optional or how.key is not None,
                                group=(how.group, how.group_help) if how.group else group)
        elif (opt := f.metadata.get(OPTION)) is not None:
            kind, many, nullable = _unwrap(hints[f.name])
            spelled = flags.get(f.name) or (opt.flag or "--" + f.name.replace("_", "-"), *opt.aliases)
            names = (spelled,) if isinstance(spelled, str) else spelled
            title, text = (opt.group, None) if opt.group else group
            default = _default_of(f)
            yield Declared(path, names[0], opt, kind, many, nullable, default, title, text, names[1:],
                           required=default is dataclasses.MISSING and not optional)


def build(config: type, given: Mapping[str, Any]) -> Any:
    """``config`` from the values a user gave, by field path; every other field keeps its default.

    An optional nested config (``nested(key=...)``) is built only where its key field is given; one of
    its other options without the key is a ``ConfigError`` naming both. A ``ConfigError`` raised while
    building a nested config comes out naming the field from ``config``'s side.
    """
    kwargs: dict[str, Any] = {}
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        if (how := f.metadata.get(NESTED)) is not None:
            inner_given = {k[len(f.name) + 1:]: v for k, v in given.items() if k.startswith(f.name + ".")}
            if how.key is not None and how.key not in inner_given:
                if inner_given:
                    first = next(iter(inner_given))
                    raise ConfigError("{" + f"{f.name}.{first}" + "} needs {" + f"{f.name}.{how.key}" + "}")
                continue
            if inner_given or how.key is not None:
                inner, _, _ = _unwrap(hints[f.name])
                try:
                    kwargs[f.name] = build(inner, inner_given)
                except ConfigError as e:
                    raise e.within(f.name) from e.__cause__
        elif f.name in given:
            kwargs[f.name] = given[f.name]
    return config(**kwargs)


@contextlib.contextmanager
def fields_within(prefix: str) -> Iterator[None]:
    """Errors raised inside name their fields from the config that holds this one under ``prefix`` (a
    pipeline step's errors, seen from the whole run)."""
    try:
        yield
    except ConfigError as e:
        raise e.within(prefix) from e.__cause__


def check(ok: bool, template: str) -> None:
    """Raise ``ConfigError(template)`` unless ``ok``: the config checks read as a list of rules."""
    if not ok:
        raise ConfigError(template)
