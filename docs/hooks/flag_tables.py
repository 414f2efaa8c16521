"""MkDocs hook: a command page's flag table, built from the parser that `mtbench CMD --help` prints.

A page writes `<!-- flags: judge -->`; the hook replaces it with one Markdown table per argparse group of
that subcommand (flag, value, help text as --help expands it, defaults included). The tables therefore
come from the same declarations as --help and cannot drift from it. Every subcommand must have a page
with its marker, and every marker must name a subcommand, or the build fails.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

# The repository's own code, not whichever mtbench the environment has installed.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"<!--\s*flags:\s*([a-z0-9-]+)\s*-->")
# Shown as code in a help text: a `quoted span`, or a flag name.
CODE_IN_TEXT = re.compile(r"`([^`]+)`|(?<![\w-])(--[a-z0-9][a-z0-9-]*)")
_seen: set[str] = set()


def subparsers() -> dict[str, argparse.ArgumentParser]:
    from mtbench.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise PluginError("mtbench.cli.build_parser() has no subcommands")


def _code(text: str) -> str:
    # HTML, not backticks: a `|` inside a code span would still split a table row.
    return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"


def escape_help(text: str) -> str:
    """Help text as literal Markdown table-cell content, flags shown as code."""
    text = " ".join(text.split())
    out = []
    last = 0
    for m in CODE_IN_TEXT.finditer(text):
        out.append(_escape_plain(text[last : m.start()]))
        out.append(_code(m.group(1) or m.group(2)))
        last = m.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]#~])", r"\\\1", text)
    return text.replace("|", "&#124;")


def _invocation(parser: argparse.ArgumentParser, action: argparse.Action) -> tuple[str, str]:
    """(the flag names, the value they take) as --help writes them."""
    formatter = parser._get_formatter()
    if not action.option_strings:
        return formatter._metavar_formatter(action, action.dest)(1)[0], ""
    value = ""
    if action.nargs != 0:
        value = formatter._format_args(action, formatter._get_default_metavar_for_optional(action))
    return ", ".join(action.option_strings), value


def flag_tables(command: str, parser: argparse.ArgumentParser) -> str:
    formatter = parser._get_formatter()
    parts: list[str] = []
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
        ]
        if not actions:
            continue
        title = group.title or "options"
        if title not in ("options", "optional arguments"):
            parts.append(f"### {_escape_plain(title[:1].upper() + title[1:])}\n")
        if group.description:
            parts.append(escape_help(group.description) + "\n")
        rows = ["| Flag | Value | Description |", "|---|---|---|"]
        for action in actions:
            flags, value = _invocation(parser, action)
            help_text = formatter._expand_help(action) if action.help else ""
            names = " ".join(_code(f) for f in flags.split(", "))
            # A break opportunity after each comma of {a,b,c}: a long choice list wraps in its column.
            shown = _code(value).replace(",", ",<wbr>") if value else ""
            rows.append(f"| {names} | {shown} | {escape_help(help_text)} |")
        # In a div so the stylesheet can keep flag names whole (docs/stylesheets/extra.css).
        parts.append('<div class="flag-table" markdown>\n\n' + "\n".join(rows) + "\n\n</div>\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    parsers = subparsers()

    def table(m: re.Match) -> str:
        name = m.group(1)
        if name not in parsers:
            raise PluginError(f"{page.file.src_path}: <!-- flags: {name} -->: mtbench has no command {name!r}")
        _seen.add(name)
        return flag_tables(name, parsers[name])

    return MARKER.sub(table, markdown)


def on_pre_build(config) -> None:
    _seen.clear()


def on_post_build(config) -> None:
    missing = sorted(set(subparsers()) - _seen)
    if missing:
        raise PluginError(
            "no page has a flag table for: " + ", ".join(missing) + " (add <!-- flags: NAME --> to its page)"
        )
