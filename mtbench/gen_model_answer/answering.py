"""Questions -> answer records through any ``Generator``: both turns, per-row seeds, failures as values.

Reproducibility: every (question, choice, turn) samples from its own generator seeded from
``sha256(f"{seed}:{question_id}:{choice}")`` and the turn, so an answer depends neither on which other
questions share its batch nor on the number of replicas.

A reasoning model's thinking is split from each answer where it is generated (``settings.reasoning``),
so the turn-2 prompt holds only the visible turn-1 answer and the record keeps the reasoning apart.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mtbench.core.bench import GOLDEN_KEY, history_answers, question_temperature
from mtbench.core.reasoning import SplitReply, choice_of
from mtbench.core.records import Answer, Question
from mtbench.core.templates import conversation
from mtbench.gen_model_answer.config import AnswerSettings
from mtbench.gen_model_answer.engine import GenerationOutput, Generator, Request, SamplingParams, drive

Row = tuple[int, int]  # (question_id, choice)


def row_seed(seed: int, question_id: int, choice: int, turn: int) -> int:
    """A stable 63-bit seed per (question, choice, turn); never Python's salted ``hash()``."""
    digest = hashlib.sha256(f"{seed}:{question_id}:{choice}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + turn) % (2**63)


def answer_questions(
    generator: Generator,
    questions: Sequence[Question],
    settings: AnswerSettings,
    on_answer: Callable[[Answer], None] | None = None,
    waves: bool = False,
    saved: Mapping[Row, Sequence[SplitReply]] | None = None,
    on_turn: Callable[[Row, int, SplitReply], None] | None = None,
) -> list[Answer]:
    """Both turns for ``questions``, in question order; ``on_answer`` gets each record as soon as all its
    choices are done (an engine that pipelines finishes questions one by one).

    Each row (question, choice) asks its turn 2 once its own turn 1 is done (``engine.drive``: waves on
    an engine that cannot pipeline, or when ``waves`` says so). A row whose turn fails stops there: its
    record carries ``error`` and only the turns that completed, and no later turn is generated from it.

    ``saved``: turns a killed run finished (``core.partial_turns``); a row goes on from the turn after
    them. ``on_turn(row, turn, reply)`` gets each finished turn that has a turn after it, to save it.
    """
    by_id = {q.question_id: q for q in questions}
    saved = saved or {}
    replies: dict[Row, list[SplitReply]] = {
        (q.question_id, c): list(saved.get((q.question_id, c), ()))[: max(0, len(q.turns) - 1)]
        for q in questions for c in range(settings.num_choices)
    }
    errors: dict[Row, str] = {}
    open_rows = {q.question_id: settings.num_choices for q in questions}
    extra = _record_extra(generator, settings)
    done: dict[int, Answer] = {}

    def request(row: Row) -> Request:
        q, turn = by_id[row[0]], len(replies[row])
        # MT-bench: the row's own answers so far; MT-Bench-101: the dialogue's golden answers instead.
        prompt = generator.template.render(conversation(q.turns, history_answers(q, [r.answer for r in replies[row]])))
        params = SamplingParams(
            temperature=question_temperature(q, manifest=settings.manifest),
            max_new_tokens=settings.max_new_token,
            seed=row_seed(settings.seed, row[0], row[1], turn),
        )
        return Request(key=row, prompt=prompt, params=params)

    def follow_up(finished: Request, result: GenerationOutput) -> list[Request]:
        row: Row = finished.key  # type: ignore[assignment]
        turn = len(replies[row])
        if result.text is None:
            errors[row] = f"turn {turn + 1}: {result.error}"
        else:
            opened = settings.reasoning.opens(finished.prompt)
            replies[row].append(settings.reasoning.split(result.text, opened=opened))
            if len(by_id[row[0]].turns) > turn + 1:
                if on_turn is not None:
                    on_turn(row, turn + 1, replies[row][-1])
                return [request(row)]
        open_rows[row[0]] -= 1
        if not open_rows[row[0]]:
            finish(by_id[row[0]])
        return []

    def finish(q: Question) -> None:
        done[q.question_id] = _answer_record(q, settings, extra, replies, errors)
        if on_answer is not None:
            on_answer(done[q.question_id])

    for q in questions:
        if not q.turns:  # nothing to ask
            finish(q)
    drive(generator, [request(row) for row in replies if by_id[row[0]].turns], follow_up, waves=waves)
    return [done[q.question_id] for q in questions]


def _record_extra(generator: Generator, settings: AnswerSettings) -> dict[str, Any]:
    extra: dict[str, Any] = {"chat_template": generator.template.name, "seed": settings.seed}
    template_kwargs = getattr(generator.template, "template_kwargs", None)  # Jinja templates only
    if template_kwargs:
        extra["chat_template_kwargs"] = dict(template_kwargs)
    extra.update(settings.reasoning.record())
    return extra


def _answer_record(
    q: Question, settings: AnswerSettings, extra: dict[str, Any], replies: dict[Row, list[SplitReply]],
    errors: dict[Row, str],
) -> Answer:
    import shortuuid

    choices = range(settings.num_choices)
    failures = [
        errors[q.question_id, c] if settings.num_choices == 1 else f"choice {c}: {errors[q.question_id, c]}"
        for c in choices
        if (q.question_id, c) in errors
    ]
    return Answer(
        question_id=q.question_id,
        answer_id=shortuuid.uuid(),
        model_id=settings.model_id,
        choices=tuple(choice_of(c, replies[q.question_id, c]) for c in choices),
        tstamp=time.time(),
        error="; ".join(failures) if failures else None,
        # MT-Bench-101: each turn was asked after the golden history, not the model's own answers
        extra={**extra, "history": "golden"} if GOLDEN_KEY in q.extra else dict(extra),
    )
