"""Which judgments count: one record per key, the models asked for, and each question's category (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from mtbench.core.bench import CATEGORIES
from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment, SingleJudgment, latest_by_key

UNKNOWN_CATEGORY = "unknown"


class _Keyed(Protocol):
    @property
    def key(self) -> Any: ...


J = TypeVar("J", bound=_Keyed)

# MT-bench's question ids come in blocks of ten per category, in CATEGORIES order starting at 81.
_MT_BENCH_FIRST_ID = 81
_MT_BENCH_PER_CATEGORY = 10


def dedupe(judgments: Iterable[J]) -> tuple[list[J], int]:
    """One record per ``.key``, the last in file order; and how many were dropped.

    FastChat's reruns append matches again and its show_result counts them twice; we count each once.
    """
    judgments = list(judgments)
    kept = latest_by_key(judgments, lambda j: j.key)
    return list(kept.values()), len(judgments) - len(kept)


def dedupe_single(judgments: Iterable[SingleJudgment]) -> tuple[list[SingleJudgment], int]:
    """One record per (question, model, turn, judge), the last in file order; and how many were dropped."""
    return dedupe(judgments)


def dedupe_pairs(judgments: Iterable[PairJudgment]) -> tuple[list[PairJudgment], int]:
    """One record per (question, model_1, model_2, turn, judge), the last in file order; and the drop count."""
    return dedupe(judgments)


def partial_rows(n_questions: np.ndarray, bench_questions: int | None = None) -> np.ndarray:
    """Which rows cover fewer questions than the most-covered row, or than the bench has (when known).

    A mean over 6 questions next to means over 80 is not the same measurement: such rows are marked.
    """
    n_questions = np.asarray(n_questions, dtype=np.int64)
    if n_questions.size == 0:
        return np.zeros(0, dtype=bool)
    full = max(int(n_questions.max()), bench_questions or 0)
    return n_questions < full


def mt_bench_categories(question_ids: Iterable[int]) -> dict[int, str]:
    """Category of each MT-bench id from the benchmark's fixed blocks (81-90 writing ... 151-160 humanities).

    The fallback when no question file is at hand; ids outside 81-160 are left out (category unknown).
    """
    out = {}
    for qid in question_ids:
        block = (qid - _MT_BENCH_FIRST_ID) // _MT_BENCH_PER_CATEGORY
        if qid >= _MT_BENCH_FIRST_ID and block < len(CATEGORIES):
            out[qid] = CATEGORIES[block]
    return out


def category_order(categories: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(categories))
    known = [c for c in CATEGORIES if c in present]
    rest = [c for c in present if c not in CATEGORIES and c != UNKNOWN_CATEGORY]
    tail = [UNKNOWN_CATEGORY] if UNKNOWN_CATEGORY in present else []
    return known + rest + tail


def require_models(requested: Sequence[str] | None, present: Iterable[str], where: str) -> None:
    """A model named in --model-list that has no judgments is a user error, not an empty row."""
    if not requested:
        return
    present = set(present)
    missing = [m for m in requested if m not in present]
    if missing:
        have = ", ".join(sorted(present)) or "none"
        raise UserError(f"--model-list: no judgments for {', '.join(missing)} in {where} (judged models: {have})")
