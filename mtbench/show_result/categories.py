"""Each judged question's category: from the question file, else MT-bench's fixed question-id blocks, with a
note saying where they came from or what is missing."""

from __future__ import annotations

from pathlib import Path

from mtbench.core.record_files import load_questions
from mtbench.show_result.selection import UNKNOWN_CATEGORY, mt_bench_categories


def question_categories(question_file: Path | None) -> dict[int, str] | None:
    """question_id -> category from the question file, or None where there is no such file."""
    if question_file is None or not question_file.is_file():
        return None
    return {q.question_id: q.category for q in load_questions(question_file)}


def judged_categories(
    qf: Path | None, by_id: dict[int, str] | None, qids: set[int], notes: list[str], *, mt_bench_fallback: bool
) -> tuple[dict[int, str] | None, str | None]:
    """The categories of the judged ``qids`` and where they came from (the question file ``qf``, whose
    ``by_id`` was read, or MT-bench's id blocks), a note appended for ids or a file that is missing."""
    if by_id is not None:
        unknown = len(qids - set(by_id))
        if unknown:
            notes.append(f"{unknown} judged question id(s) are not in {qf}; shown as category '{UNKNOWN_CATEGORY}'")
        return by_id, str(qf)
    missing = "no question file" + (f" at {qf}" if qf is not None else "")
    by_block = mt_bench_categories(qids)
    if mt_bench_fallback and qids and len(by_block) == len(qids):
        notes.append(f"{missing}; categories from MT-bench's fixed question-id blocks (81-160)")
        return by_block, "MT-bench question-id blocks"
    notes.append(f"{missing}; per-category scores unavailable")
    return None, None
