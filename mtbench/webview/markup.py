"""Untrusted text (model answers, judge explanations, questions) -> safe HTML.

Everything is HTML-escaped first; the few Markdown constructs we render (fenced code blocks, inline code,
bold, headings, bullet and numbered lists, paragraphs) are then built from the escaped text, so the only
tags in the output are the ones this module writes, and none of them carries an attribute taken from the
input (a numbered list's ``start`` is an integer we parsed). No links, no images, no raw HTML: an answer
that says ``<script>`` shows the word.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+•])\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,9})[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


def escape(text: str) -> str:
    """HTML-escape text for element content and double- or single-quoted attribute values."""
    return html.escape(text, quote=True)


def _inline(text: str) -> str:
    """Escape one line and render `code` and **bold** on the escaped text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick stays a backtick
        tail = parts.pop()
        parts[-1] = parts[-1] + "`" + tail
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
        else:
            out.append(_BOLD.sub(r"<strong>\1</strong>", escape(part)))
    return "".join(out)


def render_markdown(text: str) -> str:
    """A small, safe Markdown subset as HTML (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    list_kind: str | None = None  # "ul" or "ol" while a list is open

    def close_para() -> None:
        if para:
            out.append("<p>" + "<br>".join(_inline(x) for x in para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_kind
        if list_kind:
            out.append(f"</{list_kind}>")
            list_kind = None

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            close_para()
            close_list()
            marker = fence.group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(marker):
                body.append(lines[i])
                i += 1
            out.append("<pre><code>" + escape("\n".join(body)) + "</code></pre>")
            i += 1  # the closing fence (or the end of the text)
            continue
        if not line.strip():
            close_para()
            # A blank line between items keeps the list open (FastChat's browser collapses these too).
            if list_kind and i + 1 < len(lines) and _list_kind(lines[i + 1]) == list_kind:
                i += 1
                continue
            close_list()
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            close_para()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # h3..h6: answers sit under the page's own headings
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        kind = _list_kind(line)
        if kind:
            close_para()
            if kind != list_kind:
                close_list()
                if kind == "ol":
                    start = int(_NUMBERED.match(line).group(1))  # type: ignore[union-attr]
                    out.append("<ol>" if start == 1 else f'<ol start="{start}">')
                else:
                    out.append("<ul>")
                list_kind = kind
            item = (_BULLET.match(line) or _NUMBERED.match(line)).groups()[-1]  # type: ignore[union-attr]
            out.append(f"<li>{_inline(item)}</li>")
            i += 1
            continue
        if list_kind and line.startswith((" ", "\t")) and out and out[-1].endswith("</li>"):
            # An indented continuation line belongs to the open list item.
            out[-1] = out[-1][: -len("</li>")] + "<br>" + _inline(line.strip()) + "</li>"
            i += 1
            continue
        close_list()
        para.append(line)
        i += 1
    close_para()
    close_list()
    return "".join(out)


def _list_kind(line: str) -> str | None:
    if _BULLET.match(line) and not line.lstrip().startswith("**"):
        return "ul"
    if _NUMBERED.match(line):
        return "ol"
    return None
