"""Options declared once on a config: the generated argparse, --help defaults, field errors named as flags."""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtbench.cli.options import FlagMap, add_config_options, config_from
from mtbench.core.options import ConfigError, build, check, declared, nested, option


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    url: str | None = option(None, help="where", metavar="URL")
    tries: int = option(3, help="how often")

    def __post_init__(self) -> None:
        check(self.tries >= 0, f"{{tries}} must be 0 or more, got {self.tries}")


@dataclass(frozen=True)
class Extra:
    path: str = option(help="a path", flag="--extra-path")
    level: int = option(1, help="a level", flag="--extra-level")


@dataclass(frozen=True)
class Outer:
    name: str = option(help="a name")
    inner: Inner = nested(flags={"url": ("--inner-url", "--url")}, default_factory=Inner)
    extra: Extra | None = nested(key="path", default=None, group="extra things", group_help="only with a path")
    count: int = option(8, help="how many")
    ratio: float = option(0.5, help="a ratio")
    where: Path | None = option(None, help="a file")
    names: tuple[str, ...] = option((), help="names", metavar="N")
    colour: Colour = option(Colour.RED, help="a colour")
    fast: bool = option(False, help="go fast")
    progress: bool = option(True, flag="--no-progress", help="no bar")
    batch: bool | None = option(None, negative="--no-batch", help="batch it")
    pair: tuple[str, str] = option(("a", "b"), count=2, metavar=("X", "Y"), combine=lambda v: tuple(reversed(v)),
                                   help="two words, kept in reverse")
    doubled: int = option(0, parse=lambda text: int(text) * 2, help="a number, doubled")
    hidden: int = 5  # no option: no flag

    def __post_init__(self) -> None:
        check(self.count >= 1, f"{{count}} must be at least 1, got {self.count}")
        check(not (self.fast and self.extra is not None), "{fast} does not go with {extra.path}")


def parse(*argv: str, renames=None) -> tuple[Outer, FlagMap]:
    parser = argparse.ArgumentParser(exit_on_error=False)
    flag_map = FlagMap()
    add_config_options(parser, Outer, flag_map, renames=renames)
    args = parser.parse_args(list(argv))
    return config_from(Outer, args, flag_map), flag_map


def test_defaults_are_the_dataclass_defaults_and_only_typed_flags_are_given():
    config, _ = parse("--name", "x")
    assert config == Outer(name="x")
    assert (config.count, config.inner.tries, config.extra, config.progress, config.batch) == (8, 3, None, True, None)


def test_every_kind_of_value_is_parsed_as_the_field_says():
    config, _ = parse("--name", "x", "--url", "http://h", "--tries", "0", "--count", "2", "--ratio", "1.5",
                      "--where", "f.txt", "--names", "a", "b", "--colour", "blue", "--fast", "--no-progress",
                      "--no-batch", "--pair", "p", "q", "--doubled", "21")
    assert config.inner == Inner(url="http://h", tries=0)
    assert (config.count, config.ratio, config.where, config.names) == (2, 1.5, Path("f.txt"), ("a", "b"))
    assert (config.colour, config.fast, config.progress, config.batch) == (Colour.BLUE, True, False, False)
    assert (config.pair, config.doubled) == (("q", "p"), 42)


def test_an_optional_nested_config_exists_only_with_its_key():
    config, _ = parse("--name", "x", "--extra-path", "p", "--extra-level", "4")
    assert config.extra == Extra(path="p", level=4)
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--extra-level", "4")
    assert raised.value.fields == ("extra.level", "extra.path")


def test_errors_name_fields_and_the_cli_names_the_flag_typed():
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--count", "0")
    assert str(raised.value) == "count must be at least 1, got 0"
    _, flag_map = parse("--name", "x")
    assert flag_map.render(raised.value) == "--count must be at least 1, got 0"
    # a nested config's error comes out named from the outer config's side, with the flag that use gave it
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--tries", "-1")
    assert raised.value.fields == ("inner.tries",)
    assert flag_map.render(raised.value) == "--tries must be 0 or more, got -1"
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--fast", "--extra-path", "p")
    assert flag_map.render(raised.value) == "--fast does not go with --extra-path"
    # renamed by the caller (as `mtbench run` renames the judge's --parallel)
    _, renamed = parse("--name", "x", "--how-many", "3", renames={"count": "--how-many"})
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--how-many", "0", renames={"count": "--how-many"})
    assert renamed.render(raised.value) == "--how-many must be at least 1, got 0"


def test_an_options_own_parser_reports_what_is_wrong_after_the_flag():
    with pytest.raises(ConfigError) as raised:
        parse("--name", "x", "--doubled", "many")
    assert str(raised.value).startswith("doubled invalid literal for int()")


def test_a_field_without_default_is_required_and_choices_are_checked(capsys):
    with pytest.raises(SystemExit):
        parse("--count", "2")
    assert "the following arguments are required: --name" in capsys.readouterr().err
    with pytest.raises(argparse.ArgumentError, match="invalid choice: 'green'"):
        parse("--name", "x", "--colour", "green")


def test_help_states_each_default_once_from_the_field():
    parser = argparse.ArgumentParser()
    add_config_options(parser, Outer, FlagMap())
    text = " ".join(parser.format_help().split())
    assert "how many (default: 8)" in text and "a ratio (default: 0.5)" in text
    assert "--inner-url URL, --url URL" in text and "--pair X Y" in text
    assert "go fast (default" not in text and "--hidden" not in text
    assert "extra things: only with a path" in text


def test_declared_lists_paths_and_flags_in_field_order():
    flags = [(d.path, d.flag) for d in declared(Outer)][:5]
    assert flags == [("name", "--name"), ("inner.url", "--inner-url"), ("inner.tries", "--tries"),
                     ("extra.path", "--extra-path"), ("extra.level", "--extra-level")]


def test_build_without_a_parser_is_the_library_path():
    assert build(Outer, {"name": "x", "inner.tries": 1}).inner.tries == 1
    with pytest.raises(ConfigError, match="^inner.tries must be 0 or more"):
        build(Outer, {"name": "x", "inner.tries": -2})
