"""Which language an answer turn is in, and the published penalties for a turn not in the bench's language.

The identifier is py3langid (the maintained fork of langid.py): a 4.6 MB wheel that carries its model, so
nothing is downloaded at run or test time, needs only numpy, and answers in about a millisecond per turn
once loaded (~2 s). lingua-language-detector is more accurate on short texts but its wheels are an order
of magnitude larger; fasttext-langdetect downloads its model on first use. It is the ``lang`` extra.

Code is no language: fenced code blocks and inline code are removed before identification, and a turn
with fewer than ``MIN_LETTERS`` letters left is undetermined (``None``), never counted as wrong. Code
written without fences, and very short all-kanji answers (read as Chinese), can still be misread: the
share shown is an identification, to be read with the turns it names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import lru_cache

from mtbench.core.errors import UserError

MIN_LETTERS = 10
PENALTIES = ("none", "zero", "sqrt")
_FENCED = re.compile(r"```.*?(```|\Z)", re.DOTALL)
_INLINE = re.compile(r"`[^`\n]*`")


@lru_cache(maxsize=1)
def _classifier() -> Callable[[str], tuple[str, float]]:
    try:
        import py3langid
    except ImportError:
        raise UserError("this bench has a language: identifying answer languages needs py3langid "
                        "(pip install 'mtbench[lang]')") from None
    return py3langid.classify


def prose(text: str) -> str:
    """The text without its code (fenced blocks, inline spans)."""
    return _INLINE.sub(" ", _FENCED.sub(" ", text))


def identify(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None when too little prose is left to tell.

    A turn that is a JSON document (what extraction questions ask for) is data, not prose: None, as
    KoMT-Bench exempts its two JSON questions from its penalty."""
    try:
        json.loads(text)
        return None
    except ValueError:
        pass
    rest = prose(text)
    if sum(ch.isalpha() for ch in rest) < MIN_LETTERS:
        return None
    return _classifier()(rest)[0]


def is_wrong(language: str | None, expected: str | None) -> bool:
    """A turn counts as in the wrong language only when both are known and differ."""
    return expected is not None and language is not None and language != expected


def penalized(score: float, wrong: bool, penalty: str) -> float:
    """A turn's score under ``penalty``: ``zero`` gives a wrong-language turn 1, the lowest score, as the
    Finnish MT-Bench does (LumiOpen/FastChat: a mismatch scores [[1]] without asking the judge); ``sqrt``
    takes its square root, as KoMT-Bench's detector.py does (LG-AI-EXAONE/KoMT-Bench). ``none`` keeps it."""
    if not wrong or penalty == "none":
        return score
    if penalty == "zero":
        return 1.0
    if penalty == "sqrt":
        return math.sqrt(score) if score >= 0 else score
    raise ValueError(f"unknown language penalty {penalty!r}")
