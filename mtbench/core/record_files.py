"""The typed loaders: a question, answer, judge-prompt or judgment file read into its records.

Each names ``file:line`` in its errors (through ``mtbench.core.jsonl``) and says what a repeat means for
that kind of file.
"""

from __future__ import annotations

import logging
import os

from mtbench.core.jsonl import FieldError, LineError, RecordError, iter_jsonl, load_records, read_records
from mtbench.core.record_fields import is_string_id
from mtbench.core.records import Answer, JudgePrompt, PairJudgment, Question, SingleJudgment

log = logging.getLogger(__name__)


def load_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Questions in file order; a repeated question_id is an error (it would make answers ambiguous)."""

    seen: dict[int, int] = {}
    out = []
    for number, q in read_records(path, Question.from_json):
        if q.question_id in seen:
            raise RecordError(
                f"{path}:{number}: duplicate question_id {q.question_id} (first on line {seen[q.question_id]})"
            )
        seen[q.question_id] = number
        out.append(q)
    return out


def question_line(path: str | os.PathLike[str], question_id: int) -> int:
    """The line of ``path`` that holds question ``question_id`` (0 when none does): for errors only."""
    return next((number for number, q in read_records(path, Question.from_json) if q.question_id == question_id), 0)


def load_answers(path: str | os.PathLike[str]) -> dict[int, Answer]:
    """Answers by question_id. As in FastChat the last line for an id wins, and a question_id written as a
    string of digits (as FastChat forks write it) is read as the integer; one warning says what was normalized."""

    first_line: dict[int, int] = {}
    repeats: list[str] = []
    string_ids = 0
    out: dict[int, Answer] = {}
    for number, obj in iter_jsonl(path):
        try:
            answer = Answer.from_json(obj)
        except FieldError as e:
            raise LineError(path, number, str(e)) from None
        string_ids += is_string_id(obj.get("question_id"))
        qid = answer.question_id
        if qid in first_line:
            repeats.append(f"question {qid} on line {number} (first on line {first_line[qid]})")
        else:
            first_line[qid] = number
        out[qid] = answer
    notes = []
    if repeats:
        shown = "; ".join(repeats[:3]) + (f"; {len(repeats) - 3} more" if len(repeats) > 3 else "")
        notes.append(f"{len(repeats)} repeated row(s), the last line wins: {shown}")
    if string_ids:
        notes.append(f"{string_ids} question id(s) written as strings, read as integers")
    if notes:
        log.warning("%s: read as FastChat reads it: %s", path, "; ".join(notes))
    return out


def load_judge_prompts(path: str | os.PathLike[str]) -> dict[str, JudgePrompt]:
    """Judge prompts by name; a repeated name is an error."""

    prompts: dict[str, JudgePrompt] = {}
    for number, prompt in read_records(path, JudgePrompt.from_json):
        if prompt.name in prompts:
            raise RecordError(f"{path}:{number}: duplicate judge prompt name {prompt.name!r}")
        prompts[prompt.name] = prompt
    return prompts


def load_single_judgments(path: str | os.PathLike[str]) -> list[SingleJudgment]:
    """Single judgments in file order (repeats included: ``latest_by_key`` picks the one to keep)."""

    return load_records(path, SingleJudgment.from_json)


def load_pair_judgments(path: str | os.PathLike[str]) -> list[PairJudgment]:
    """Pairwise judgments in file order (repeats included: ``latest_by_key`` picks the one to keep)."""

    return load_records(path, PairJudgment.from_json)
