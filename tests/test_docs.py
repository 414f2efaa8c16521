"""The docs' flag tables (docs/hooks/flag_tables.py) against the parser that prints --help."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

from mtbench.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def load_hook():
    spec = importlib.util.spec_from_file_location("flag_tables", ROOT / "docs" / "hooks" / "flag_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = load_hook()


class Page:
    class file:
        src_path = "commands/x.md"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
@pytest.mark.slow
def test_every_flag_of_every_command_is_in_its_table(name):
    parser = subcommands()[name]
    tables = hook.on_page_markdown(f"before\n<!-- flags: {name} -->\nafter", Page, None, None)
    assert tables.startswith("before\n") and tables.endswith("\nafter")
    cells = re.findall(r"<code>([^<]*)</code>", tables)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        for flag in action.option_strings or [action.metavar or action.dest]:
            assert flag in cells, f"{name}: {flag} missing from the docs table"


def test_judge_table_says_what_help_says():
    help_text = " ".join(subcommands()["judge"].format_help().split())
    tables = hook.on_page_markdown("<!-- flags: judge -->", Page, None, None)
    row = next(line for line in tables.splitlines() if line.startswith("| <code>--parallel</code>"))
    assert "concurrent judge requests (default: 8)" in row and "concurrent judge requests (default: 8)" in help_text
    # A titled --help section becomes a sub-heading with its description.
    assert "### Local judge" in tables
    assert "judge in this process with a local model" in tables


def test_help_text_is_escaped_for_a_table_cell():
    assert hook.escape_help("a|b <think> *x* _y_ [z]") == r"a&#124;b &lt;think&gt; \*x\* \_y\_ \[z\]"
    assert hook.escape_help("see --max-tokens or `mtbench show`") == (
        "see <code>--max-tokens</code> or <code>mtbench show</code>")
    # A pipe inside a value would split the row even inside a code span.
    assert hook._code("NAME|FILE") == "<code>NAME&#124;FILE</code>"


def test_a_marker_naming_no_command_fails_the_build():
    with pytest.raises(PluginError, match="no command 'nosuch'"):
        hook.on_page_markdown("<!-- flags: nosuch -->", Page, None, None)


def test_a_command_without_a_table_fails_the_build():
    hook.on_pre_build(None)
    for name in subcommands():
        if name != "repair":
            hook.on_page_markdown(f"<!-- flags: {name} -->", Page, None, None)
    with pytest.raises(PluginError, match="no page has a flag table for: repair"):
        hook.on_post_build(None)
    hook.on_page_markdown("<!-- flags: repair -->", Page, None, None)
    hook.on_post_build(None)
