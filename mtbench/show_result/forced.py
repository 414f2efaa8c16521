"""Forced verdicts in a table (``mtbench judge --force-verdict``): counted per model, so a score the
judge never wrote is not mistaken for one it did (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtbench.core.records import PairJudgment, SingleJudgment

FORCED_COLUMN = "n_forced"


def is_forced(record: SingleJudgment | PairJudgment) -> bool:
    """Whether the record's verdict (a game's, for a pair) was forced rather than written by the judge."""
    return record.extra.get("verdict_forced") is True


def forced_per_model(records: Iterable[SingleJudgment | PairJudgment], models: Sequence[str]) -> np.ndarray | None:
    """Per model of ``models`` (in order), its valid judgments with a forced verdict; None when there are
    none at all (the table then has no such column: files without forced verdicts read as before)."""
    index = {m: i for i, m in enumerate(models)}
    counts = np.zeros(len(models), dtype=np.int64)
    for r in records:
        if r.failed or not is_forced(r):
            continue
        for model in (r.model,) if isinstance(r, SingleJudgment) else (r.model_1, r.model_2):
            if model in index:
                counts[index[model]] += 1
    return counts if counts.any() else None


def forced_note(total: int, pairwise: bool) -> str:
    """The note under a table that has forced verdicts."""
    what, text = ("match(es) had a game", "Verdict: [[") if pairwise else ("score(s) were", "Rating: [[")
    return (
        f"{total} {what} forced (--force-verdict): the judge wrote no verdict, so the one read is its most "
        f"probable after the fixed text '{text}', not a verdict it wrote (column forced)"
    )


def forced_header(table: pd.DataFrame) -> list[str]:
    """The table's "forced" column heading, only where it has forced verdicts (show, report)."""
    return ["forced"] if FORCED_COLUMN in table.columns else []


def forced_cells(row: Any) -> list[str]:
    """A table row's forced-verdict cell (``row`` from ``DataFrame.iterrows``), where it has the column."""
    return [str(int(row[FORCED_COLUMN]))] if FORCED_COLUMN in row.index else []
