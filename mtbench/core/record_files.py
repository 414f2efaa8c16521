"""The typed loaders: a question, answer, judge-prompt or judgment file read into its records.

Each names ``file:line`` in its errors (through ``mtbench.core.jsonl``) and says what a repeat means for
that kind of file.
"""

from __future__ import annotations

import logging
import os

from mtbench.core.jsonl import RecordError, load_records, read_records
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


def load_answers(path: str | os.PathLike[str]) -> dict[int, Answer]:
    """Answers by question_id. As in FastChat the last line for an id wins; a repeat is warned about."""

    first_line: dict[int, int] = {}
    out: dict[int, Answer] = {}
    for number, answer in read_records(path, Answer.from_json):
        qid = answer.question_id
        if qid in first_line:
            log.warning(
                "%s:%d: question %d appears again (first on line %d); the last line wins",
                path, number, qid, first_line[qid],
            )
        else:
            first_line[qid] = number
        out[qid] = answer
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
