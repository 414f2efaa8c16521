"""What a table's rows cover: the judges its records name, and a note on rows over fewer questions."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from mtbench.core.records import PairJudgment, SingleJudgment

PARTIAL_MARK = "*"  # after the question count of a partial row, in the table and Markdown


def recorded_judges(judgments: Iterable[SingleJudgment | PairJudgment]) -> tuple[str, ...]:
    """The judge models the records name (``judge[0]``), sorted: what the file holds, whatever it is called."""
    return tuple(sorted({j.judge[0] for j in judgments}))


def coverage_notes(table: pd.DataFrame, bench_questions: int | None) -> list[str]:
    """One note naming the partial rows (``n_questions``, ``partial`` columns), or none when every row is full."""
    partial = table[table["partial"]]
    if partial.empty:
        return []
    most = int(table["n_questions"].max())
    if bench_questions is not None and bench_questions > most:
        full = f"the bench's {bench_questions}"
    else:
        full = f"the most-covered model's {most}"
    rows = ", ".join(f"{model} {int(n)}" for model, n in partial["n_questions"].items())
    return [
        f"partial coverage (marked {PARTIAL_MARK}): {rows} questions, fewer than {full}; a score over fewer "
        "questions does not compare directly with the others (see n_questions)"
    ]
