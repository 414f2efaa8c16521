"""A model's answer file, as both answer commands (gen-answer, gen-api-answer) use it.

One run holds the file from before it reads what is answered until it has written its last line and
put the file in FastChat's order (sorted by question id, one line per id). Two runs on one file: the
second is refused with one line, so no answer is asked twice and none is lost to the final rewrite.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from mtbench.core.chat_result import is_transport_failure
from mtbench.core.errors import UserError
from mtbench.core.partial_turns import prune_partial
from mtbench.core.record_files import load_questions
from mtbench.core.records import (
    Answer,
    Question,
    exclusive_output,
    latest_by_key,
    read_records,
    rewrite_jsonl,
)

log = logging.getLogger(__name__)


def first_per_category(questions: Sequence[Question], n: int | None) -> list[Question]:
    """The first ``n`` questions of each category, in file order (every question for None): a quick look at
    all eight categories, where a slice of the file (ordered by category) would see one or two."""
    if n is None:
        return list(questions)
    if n < 1:
        raise UserError(f"--per-category must be at least 1, got {n}")
    seen: dict[str, int] = {}
    picked = []
    for q in questions:
        seen[q.category] = seen.get(q.category, 0) + 1
        if seen[q.category] <= n:
            picked.append(q)
    return picked


def select_questions(
    path: Path, begin: int | None, end: int | None, per_category: int | None = None
) -> list[Question]:
    """The questions of ``path`` in the slice [begin, end) (then the first ``per_category`` of each
    category), or one line saying why there are none."""
    if not path.is_file():
        raise UserError(f"{path}: no such file (run `mtbench download` first, or check --data-dir)")
    return pick_questions(load_questions(path), path, begin, end, per_category)


def pick_questions(
    questions: Sequence[Question], path: Path, begin: int | None, end: int | None, per_category: int | None
) -> list[Question]:
    """The slice [begin, end) of ``questions`` (read from ``path``), then the first ``per_category`` of each
    category, or one line saying why there are none."""
    if not questions:
        raise UserError(f"{path}: the question file has no questions")
    picked = first_per_category(questions[begin:end], per_category)
    if not picked:
        raise UserError(
            f"{path}: no questions in the slice --question-begin {begin or 0} --question-end "
            f"{len(questions) if end is None else end} (the file has {len(questions)})"
        )
    return picked


def existing_answers(path: Path) -> dict[int, Answer]:
    """The answers on disk, one per question (the last line for an id wins)."""
    if not path.is_file():
        return {}
    return latest_by_key((a for _, a in read_records(path, Answer.from_json)), lambda a: a.key)


# Where an answer failed, before the client's reason: "turn 2: ", "choice 1 turn 2: ", "choice 1: turn 2: "
_WHERE = re.compile(r"^(?:choice \d+:? )?turn \d+: ")


def never_reached(answer: Answer) -> bool:
    """Whether a failure record failed only because the endpoint never answered (no connection, a timeout,
    429/5xx after every retry): that says nothing about the question, so a plain rerun asks it again, as
    the judge does with such a match. A refused request (a 400) or a failed generation stays done until
    --retry-failed."""
    if answer.error is None:
        return False
    return all(is_transport_failure(_WHERE.sub("", part)) for part in answer.error.split("; "))


def questions_to_ask(questions: Sequence[Question], on_disk: dict[int, Answer], retry_failed: bool) -> list[Question]:
    """The questions a run still has to ask: not on disk, on disk as a failure the endpoint never answered,
    or any failure when retrying those."""
    todo = []
    for q in questions:
        answer = on_disk.get(q.question_id)
        if answer is None or (answer.failed and (retry_failed or never_reached(answer))):
            todo.append(q)
    return todo


def sort_answer_file(path: Path) -> None:
    """FastChat's reorg: sorted by question id, one line per id. A file already in order is not rewritten."""
    if not path.is_file():
        return
    if path.stat().st_size == 0:
        path.unlink()  # a run stopped before its first answer leaves nothing that looks like a model
        return
    records = [a for _, a in read_records(path, Answer.from_json)]
    latest = latest_by_key(records, lambda a: a.key)
    ordered = [latest[qid] for qid in sorted(latest)]
    if len(ordered) == len(records) and all(a is b for a, b in zip(ordered, records, strict=True)):
        return
    rewrite_jsonl(path, ordered)


@contextlib.contextmanager
def answer_run(path: Path, command: str) -> Iterator[None]:
    """Hold ``path`` for the whole run; on the way out, put it in order.

    Then the saved turns of questions now answered are dropped (``partial_turns``).
    A failure of the final sort (a full disk) never hides the run's own error; on a clean run it is
    reported as the error it is.
    """
    with exclusive_output(path, command):
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            try:
                sort_answer_file(path)
                # the saved turns of what is now answered are spent (a failure keeps them for its retry)
                prune_partial(path, {a.question_id for a in existing_answers(path).values() if not a.failed})
            except OSError as e:
                if not failed:
                    raise
                print(f"mtbench {command}: could not sort {path}: {os.strerror(e.errno or 0)}", file=sys.stderr)
