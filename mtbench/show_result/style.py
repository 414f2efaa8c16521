"""What a judge might lean on besides content: each judged answer's length and markdown, from the answer files.

Judgment records carry the judge's prompt, not the answer alone, so the answers are read from the bench's
``model_answer/MODEL.jsonl`` (the files the judge was given). Length is counted in characters of the judged
turn's answer: no tokenizer to pick or download, and FastChat issue 3911 counted the same way. Markdown is
counted as arena-hard-auto does: header lines, list items and bold spans.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.answer_file import existing_answers
from mtbench.core.errors import UserError

LENGTH_UNIT = "characters"
_HEADER = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
STYLE_FEATURES = ("length", "headers", "list_items", "bold")


@dataclass(frozen=True)
class AnswerStyle:
    """One judged answer's surface: characters, header lines, list items, bold spans."""

    length: int
    headers: int
    list_items: int
    bold: int

    @property
    def markdown(self) -> int:
        """All markdown elements together: what "the answer with more markdown" compares."""
        return self.headers + self.list_items + self.bold

    @property
    def log2_length(self) -> float:
        # +1: an empty answer (a model that said nothing) still has a finite log length.
        return math.log2(self.length + 1)

    def features(self) -> tuple[float, ...]:
        """The values of ``STYLE_FEATURES`` in order."""
        return (float(self.length), float(self.headers), float(self.list_items), float(self.bold))


def answer_style(text: str) -> AnswerStyle:
    return AnswerStyle(
        length=len(text),
        headers=len(_HEADER.findall(text)),
        list_items=len(_LIST_ITEM.findall(text)),
        bold=len(_BOLD.findall(text)),
    )


@dataclass(frozen=True)
class AnswerStyles:
    """The style of each (model, question, turn) answer that the answer files hold."""

    by_key: Mapping[tuple[str, int, int], AnswerStyle]

    def get(self, model: str, question_id: int, turn: int) -> AnswerStyle | None:
        return self.by_key.get((model, question_id, turn))


def load_answer_styles(answer_dir: Path, models: Iterable[str]) -> AnswerStyles:
    """Read ``answer_dir/MODEL.jsonl`` for each model (first choice, every turn); one line naming a missing file."""
    by_key: dict[tuple[str, int, int], AnswerStyle] = {}
    for model in sorted(set(models)):
        path = answer_dir / f"{model}.jsonl"
        if not path.is_file():
            raise UserError(
                f"no answer file at {path}: lengths and markdown are read from the answers the judge saw "
                "(set --data-dir/--bench-name to the bench that holds them)"
            )
        for qid, answer in existing_answers(path).items():
            if answer.failed:
                continue
            for turn, text in enumerate(answer.turns, start=1):
                by_key[(model, qid, turn)] = answer_style(text)
    return AnswerStyles(by_key)
