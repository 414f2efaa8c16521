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
from collections.abc import Sequence
from typing import Any

from mtbench.bench import question_temperature
from mtbench.gen_model_answer.config import AnswerSettings
from mtbench.gen_model_answer.engine import Generator, SamplingParams
from mtbench.reasoning import SplitReply, choice_of
from mtbench.records import Answer, Question
from mtbench.templates import conversation

Row = tuple[int, int]  # (question_id, choice)


def row_seed(seed: int, question_id: int, choice: int, turn: int) -> int:
    """A stable 63-bit seed per (question, choice, turn); never Python's salted ``hash()``."""
    digest = hashlib.sha256(f"{seed}:{question_id}:{choice}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + turn) % (2**63)


def answer_questions(generator: Generator, questions: Sequence[Question], settings: AnswerSettings) -> list[Answer]:
    """Both turns for ``questions``: every turn-1 prompt first, then every turn-2 prompt.

    A row (question, choice) whose turn fails stops there: its record carries ``error`` and only the turns
    that completed, and no later turn is generated from a failed one.
    """
    rows = [(q, c) for q in questions for c in range(settings.num_choices)]
    replies: dict[Row, list[SplitReply]] = {(q.question_id, c): [] for q, c in rows}
    errors: dict[Row, str] = {}
    for turn in range(max((len(q.turns) for q in questions), default=0)):
        active = [(q, c) for q, c in rows if len(q.turns) > turn and (q.question_id, c) not in errors]
        if not active:
            break
        prompts = [
            generator.template.render(conversation(q.turns, [r.answer for r in replies[q.question_id, c]]))
            for q, c in active
        ]
        params = [
            SamplingParams(
                temperature=question_temperature(q),
                max_new_tokens=settings.max_new_token,
                seed=row_seed(settings.seed, q.question_id, c, turn),
            )
            for q, c in active
        ]
        outputs = generator.generate(prompts, params)
        for (q, c), prompt, result in zip(active, prompts, outputs, strict=True):
            if result.text is None:
                errors[q.question_id, c] = f"turn {turn + 1}: {result.error}"
            else:
                opened = settings.reasoning.opens(prompt)
                replies[q.question_id, c].append(settings.reasoning.split(result.text, opened=opened))
    extra: dict[str, Any] = {"chat_template": generator.template.name, "seed": settings.seed}
    template_kwargs = getattr(generator.template, "template_kwargs", None)  # Jinja templates only
    if template_kwargs:
        extra["chat_template_kwargs"] = dict(template_kwargs)
    extra.update(settings.reasoning.record())
    return [_answer_record(q, settings, extra, replies, errors) for q in questions]


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
        extra=dict(extra),
    )
