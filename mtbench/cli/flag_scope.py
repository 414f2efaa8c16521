"""Other commands' flags inside `mtbench run`, each under the name run gives it.

`run` registers the flags of gen-answer, gen-api-answer, judge, show, report and download with those
commands' own ``add_*_args`` functions, each through a ``FlagScope``: a stand-in parser that gives every
flag a dest of its own (``judge:parallel``), renames the flags whose names another step already uses
(judge's ``--parallel`` becomes ``--judge-parallel``), leaves out the ones run decides itself, and turns
the parsed flags back into the Namespace the command's own ``*_config_from`` reads (``view``).

A flag that two steps both register is refused when the parser is built (a ValueError: a bug, caught by
any test that builds the parser), unless the later step declares it shared: the same name and the same
meaning, one value for both (``--mode``, ``--judge-model``, ``--model-list``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from mtbench.core.errors import UserError


class FlagTable:
    """The flags of one parser by option string, with the dest each was registered under."""

    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser
        self.dests: dict[str, str] = {}

    def own(self, *flags: str, group: Any = None, **kwargs: Any) -> None:
        """A flag of run itself (its dest as argparse derives it); later scopes may share it."""
        action = (group or self.parser).add_argument(*flags, **kwargs)
        self.dests.update(dict.fromkeys(flags, action.dest))

    def scope(
        self, name: str, *, title: str, rename: Mapping[str, str] | None = None, shared: Collection[str] = (),
        drop: Collection[str] = (), optional: Collection[str] = (),
    ) -> FlagScope:
        """A stand-in parser for step ``name``'s flags, listed in run's help under ``title``.

        ``rename``: the step's flag -> run's name for it; ``shared``: flags (by the step's name) that take
        the value of the flag already registered under that name; ``drop``: flags run leaves out (their
        default is what the step sees); ``optional``: flags the step requires but run does not.
        """
        return FlagScope(self, name, self.parser.add_argument_group(title), dict(rename or {}), set(shared),
                         set(drop), set(optional))


_NO_VALUE = ("store_true", "store_false", "store_const", "append_const", "count")


def _dest_of(flags: tuple[str, ...]) -> str:
    """The dest argparse derives for ``flags``: the first long option, without dashes, '-' as '_'."""
    long = next((f for f in flags if f.startswith("--")), flags[0])
    return long.lstrip("-").replace("-", "_")


def _default_of(kwargs: Mapping[str, Any]) -> Any:
    if "default" in kwargs:
        return kwargs["default"]
    return {"store_true": False, "store_false": True}.get(kwargs.get("action", ""), None)


class FlagScope:
    """Looks like an argparse parser to a command's ``add_*_args``; see the module docstring."""

    def __init__(self, table: FlagTable, name: str, group: Any, rename: dict[str, str], shared: set[str],
                 drop: set[str], optional: set[str]):
        self.name = name
        self._table = table
        self._group = group
        self._rename = rename
        self._shared = shared
        self._drop = drop
        self._optional = optional
        self._dests: dict[str, str] = {}  # the step's dest -> its dest in run's Namespace
        self._fixed: dict[str, Any] = {}  # the step's dest -> the value it gets without a flag

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self._add(self._group, flags, kwargs)

    def add_mutually_exclusive_group(self, **kwargs: Any) -> _Group:
        return _Group(self, self._group.add_mutually_exclusive_group(**kwargs))

    def add_argument_group(self, *args: Any, **kwargs: Any) -> _Group:
        return _Group(self, self._table.parser.add_argument_group(*args, **kwargs))

    def set_defaults(self, **values: Any) -> None:
        self._fixed.update(values)

    def _add(self, target: Any, flags: tuple[str, ...], kwargs: dict[str, Any]) -> None:
        dest = kwargs.pop("dest", None) or _dest_of(flags)
        first = flags[0]
        if first in self._drop:
            self._fixed[dest] = _default_of(kwargs)
            return
        names = tuple(self._rename.get(f, f) for f in flags)
        taken = [n for n in names if n in self._table.dests]
        if taken:
            if first not in self._shared:
                raise ValueError(f"mtbench run: {self.name}'s {first} collides with {taken[0]}, already registered: "
                                 "rename it or declare it shared")
            self._dests[dest] = self._table.dests[taken[0]]
            return
        if first in self._optional:
            kwargs["required"] = False
        run_dest = f"{self.name}:{dest}"
        if kwargs.get("action") not in _NO_VALUE and "choices" not in kwargs:
            kwargs.setdefault("metavar", dest.upper())  # as the step's own help shows it
        target.add_argument(*names, dest=run_dest, **kwargs)
        self._table.dests.update(dict.fromkeys(names, run_dest))
        self._dests[dest] = run_dest

    def view(self, args: argparse.Namespace, **values: Any) -> argparse.Namespace:
        """The Namespace the step's own command would have parsed, from run's; ``values`` set some dests."""
        seen = {dest: getattr(args, run_dest) for dest, run_dest in self._dests.items()}
        return argparse.Namespace(**{**self._fixed, **seen, **values})

    def set(self, args: argparse.Namespace, dest: str, value: Any) -> None:
        """Give the step's ``dest`` a value in run's Namespace, as if its flag had been given."""
        setattr(args, self._dests[dest], value)

    def set_default(self, args: argparse.Namespace, dest: str, value: Any) -> None:
        """Give ``dest`` a different default: ``value`` unless its flag holds something other than the step's
        own default (a flag given with the default value itself is taken as not given)."""
        if not self.given(args, dest):
            setattr(args, self._dests[dest], value)

    def given(self, args: argparse.Namespace, dest: str) -> bool:
        """Whether ``dest`` holds something other than its default (its flag was given)."""
        run_dest = self._dests[dest]
        return bool(getattr(args, run_dest) != self._table.parser.get_default(run_dest))

    def translate(self, message: str) -> str:
        """``message`` with the step's flag names replaced by run's (a config's error names the step's)."""
        for old, new in self._rename.items():
            message = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, message)
        return message

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Re-raise a UserError of the step's config with run's flag names in it."""
        try:
            yield
        except UserError as e:
            raise UserError(self.translate(str(e))) from None


class _Group:
    """A mutually exclusive group inside a scope: same renaming, same checks."""

    def __init__(self, scope: FlagScope, group: Any):
        self._scope = scope
        self._group = group

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self._scope._add(self._group, flags, kwargs)
