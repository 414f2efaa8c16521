"""Untrusted text (model answers, judge explanations, questions) -> safe HTML, with markdown-it-py.

CommonMark plus tables (extraction answers contain them), with raw HTML off: an answer that says
``<script>`` shows the word. What the parser would still let the input decide is narrowed here:
links only to http, https and mailto (no ``javascript:``, ``data:``, ``vbscript:``), and they open
nothing behind the page's back (``rel``); no images at all (a picture is a request leaving the page);
table alignment as a class, since both pages' Content-Security-Policy refuses inline ``style``; no
``class`` from a fence's info string. Headings start at h3: answers sit under the page's own headings.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

SAFE_SCHEMES = ("http:", "https:", "mailto:")
LINK_REL = "nofollow noopener noreferrer"
HEADING_SHIFT = 2  # '#' -> h3 ... '####' and deeper -> h6
# Models write '•' bullets; FastChat's browser turns them into a list, and so do we.
_BULLET = re.compile(r"^([ \t]*)•[ \t]+", re.M)


def safe_link(url: str) -> bool:
    """Only web and mail links; a relative link or any other scheme stays text."""
    return url.strip().lower().startswith(SAFE_SCHEMES)


def _narrow(state: StateCore) -> None:
    """A core rule run after parsing: headings shifted, alignment as a class, links given ``rel``."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1:]) + HEADING_SHIFT, 6)}"
        elif token.type in ("th_open", "td_open"):
            style = token.attrGet("style")
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrs.pop("style")
                token.attrSet("class", "align-" + style.split(":", 1)[1])
        elif token.type == "fence":
            token.info = ""  # the language name would become a class attribute taken from the input
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", LINK_REL)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table").disable("image")
    md.validateLink = safe_link  # type: ignore[method-assign]
    md.core.ruler.push("mtbench_narrow", _narrow)
    return md


_MD = _parser()


def render_markdown(text: str) -> str:
    """Markdown as safe HTML (see the module docstring)."""
    return _MD.render(_BULLET.sub(r"\1- ", text))



def rich(text: str) -> dict[str, str]:
    """A piece of untrusted text as sent to a page: the raw text and its safe Markdown rendering."""
    return {"text": text, "html": render_markdown(text)}
