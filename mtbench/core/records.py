"""Typed records for MT-bench files: questions, answers, judge prompts, single and pairwise judgments.

Field names are FastChat's (questions, model answers, reference answers, judge prompts, single and
pairwise judgments), so files move both ways. Fields we do not know are kept in ``extra`` and written
back, so a round trip loses nothing. Parsing happens once, at the file boundary: ``from_json`` raises
``FieldError`` and the reader (``mtbench.core.jsonl``) names the ``file:line``.

Failures are values: an answer or judgment that failed carries ``error`` (a reason) and no score or
text that could be mistaken for one. FastChat's sentinels (``$ERROR$``, ``ERROR``, score ``-1``) are
recognised on load and reported as failures.

The JSONL layer is re-exported here (``from mtbench.core.records import JsonlWriter, exclusive_output``).
The import goes one way, records -> jsonl; the typed loaders (``load_answers`` ...) are in
``mtbench.core.record_files``, which imports both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mtbench.core import record_fields as fields
from mtbench.core.jsonl import (
    FieldError,
    JsonlWriter,
    LineError,
    Record,
    RecordError,
    dumps,
    exclusive_output,
    iter_jsonl,
    latest_by_key,
    load_records,
    lock_path,
    read_records,
    repair_torn_tail,
    rewrite_jsonl,
)

__all__ = [
    "FASTCHAT_API_ERROR", "FASTCHAT_GEN_ERROR", "WINNERS",
    "Answer", "Choice", "JudgePrompt", "PairJudgment", "Question", "SingleJudgment",
    # re-exported from mtbench.core.jsonl
    "FieldError", "JsonlWriter", "LineError", "Record", "RecordError", "dumps", "exclusive_output",
    "iter_jsonl", "latest_by_key",
    "load_records", "lock_path", "read_records",
    "repair_torn_tail", "rewrite_jsonl",
]

FASTCHAT_API_ERROR = "$ERROR$"  # gen_api_answer / gen_judgment write this when every retry failed
FASTCHAT_GEN_ERROR = "ERROR"  # gen_model_answer writes this when generation raised
WINNERS = ("model_1", "model_2", "tie", "error")

# ---------------------------------------------------------------------------------------------------
# records


class _JsonRecord:
    """``to_json`` from ``FIELDS``, in that order (FastChat's), then the unknown fields kept in ``extra``."""

    FIELDS: ClassVar[tuple[str, ...]]
    extra: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is None and name in _WRITTEN_ONLY_WHEN_SET:
                continue
            if isinstance(value, tuple):  # turns, choices, (judge, prompt): JSON lists
                value = [item.to_json() if isinstance(item, Choice) else item for item in value]
            out[name] = value
        out.update(self.extra)
        return out


# Optional fields FastChat's files leave out rather than write as null (a failed score is written as null).
_WRITTEN_ONLY_WHEN_SET = frozenset({"reference", "required_temperature", "error"})


@dataclass(frozen=True)
class Question(_JsonRecord):
    question_id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None  # human hints; shown by browsers, never given to the judge
    required_temperature: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = ("question_id", "category", "turns", "reference", "required_temperature")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Question:
        turns = fields.strings(obj, "turns")
        if not turns:
            raise FieldError("field 'turns' is empty")
        return cls(
            question_id=fields.question_id(obj),
            category=fields.get(obj, "category", str, "a string"),
            turns=turns,
            reference=fields.optional_strings(obj, "reference"),
            required_temperature=fields.optional_number(obj, "required_temperature"),
            extra=fields.extra(obj, cls.FIELDS),
        )


@dataclass(frozen=True)
class Choice:
    """One conversation. ``turns`` are the visible answers (what judges read); a reasoning model's
    thinking is kept apart, one item per turn (None for a turn without), and written only when there is
    some, so the files of models that do not reason are FastChat's exactly."""

    index: int
    turns: tuple[str, ...]
    reasoning: tuple[str | None, ...] | None = None
    cut_while_reasoning: tuple[int, ...] = ()  # turn numbers (from 1) the token limit cut inside reasoning

    @classmethod
    def from_json(cls, obj: Any, position: int) -> Choice:
        if not isinstance(obj, dict):
            raise FieldError(f"choices[{position}] must be an object, got {fields.describe(obj)}")
        try:
            index = fields.get_optional(obj, "index", int, "an integer")
            turns = fields.strings(obj, "turns")
            reasoning = fields.get_optional(obj, "reasoning", list, "a list of strings or nulls")
            cut = fields.get_optional(obj, "cut_while_reasoning", list, "a list of turn numbers") or []
            for i, item in enumerate(reasoning or []):
                if item is not None:
                    fields.checked(f"reasoning[{i}]", item, str, "a string or null")
            for i, item in enumerate(cut):
                fields.checked(f"cut_while_reasoning[{i}]", item, int, "a turn number")
        except FieldError as e:
            raise FieldError(f"choices[{position}]: {e}") from None
        return cls(index=position if index is None else index, turns=turns,
                   reasoning=None if reasoning is None else tuple(reasoning), cut_while_reasoning=tuple(cut))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "turns": list(self.turns)}
        if self.reasoning is not None:
            out["reasoning"] = list(self.reasoning)
        if self.cut_while_reasoning:
            out["cut_while_reasoning"] = list(self.cut_while_reasoning)
        return out


@dataclass(frozen=True)
class Answer(_JsonRecord):
    """One line of a model-answer (or reference-answer) file: a model's conversation for one question.

    A failed generation has ``error`` set; its ``turns`` hold only the turns that did complete.
    """

    question_id: int
    model_id: str
    choices: tuple[Choice, ...]
    answer_id: str = ""
    tstamp: float = 0.0
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = ("question_id", "answer_id", "model_id", "choices", "tstamp", "error")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Answer:
        raw_choices = fields.get(obj, "choices", list, "a list")
        if not raw_choices:
            raise FieldError("field 'choices' is empty")
        return cls(
            question_id=fields.question_id(obj),
            model_id=fields.get(obj, "model_id", str, "a string"),
            choices=tuple(Choice.from_json(c, i) for i, c in enumerate(raw_choices)),
            answer_id=fields.get_optional(obj, "answer_id", str, "a string") or "",
            tstamp=fields.number_or(obj, "tstamp", 0.0),
            error=fields.get_optional(obj, "error", str, "a string"),
            extra=fields.extra(obj, cls.FIELDS),
        )


    @property
    def key(self) -> int:
        """An answer's identity in its model's file: one line per question."""
        return self.question_id

    @property
    def turns(self) -> tuple[str, ...]:
        """The judged conversation: FastChat only ever judges or shows ``choices[0]``."""
        return self.choices[0].turns

    @property
    def failure(self) -> str | None:
        """Why this answer must not be judged, or None. Knows FastChat's sentinel texts."""
        if self.error is not None:
            return self.error
        for i, text in enumerate(self.turns, 1):
            if text in (FASTCHAT_API_ERROR, FASTCHAT_GEN_ERROR):
                return f"turn {i} is FastChat's failure text {text!r}"
        return None

    @property
    def failed(self) -> bool:
        return self.failure is not None


@dataclass(frozen=True)
class JudgePrompt(_JsonRecord):
    name: str
    type: str  # "single" or "pairwise"
    system_prompt: str
    prompt_template: str
    output_format: str  # "[[rating]]", "[[A]]" or "[[rating_a,rating_b]]"
    description: str = ""
    category: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "name", "type", "system_prompt", "prompt_template", "description", "category", "output_format",
    )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> JudgePrompt:
        kind = fields.get(obj, "type", str, "a string")
        if kind not in ("single", "pairwise"):
            raise FieldError(f"field 'type' must be \"single\" or \"pairwise\", got {fields.describe(kind)}")
        return cls(
            name=fields.get(obj, "name", str, "a string"),
            type=kind,
            system_prompt=fields.get(obj, "system_prompt", str, "a string"),
            prompt_template=fields.get(obj, "prompt_template", str, "a string"),
            output_format=fields.get(obj, "output_format", str, "a string"),
            description=fields.get_optional(obj, "description", str, "a string") or "",
            category=fields.get_optional(obj, "category", str, "a string") or "",
            extra=fields.extra(obj, cls.FIELDS),
        )


def _judge_pair(obj: Mapping[str, Any]) -> tuple[str, str]:
    judge = fields.get(obj, "judge", list, "a list [judge_model, prompt_name]")
    if len(judge) != 2 or not all(isinstance(x, str) for x in judge):
        raise FieldError(f"field 'judge' must be [judge_model, prompt_name], got {fields.describe(judge)}")
    return (judge[0], judge[1])


def _sample(extra: Mapping[str, Any]) -> int:
    # Kept in ``extra`` (FastChat's readers ignore it); checked on load by ``_check_sample``.
    value = extra.get("sample")
    return value if isinstance(value, int) else 0


def _check_sample(obj: Mapping[str, Any]) -> None:
    value = fields.get_optional(obj, "sample", int, "an integer 0 or more")
    if value is not None and value < 0:
        raise FieldError(f"field 'sample' must be 0 or more, got {value}")


def _turn(obj: Mapping[str, Any]) -> int:
    turn = fields.get(obj, "turn", int, "1 or 2")
    if turn < 1:
        raise FieldError(f"field 'turn' must be 1 or more, got {turn}")
    return turn


@dataclass(frozen=True)
class SingleJudgment(_JsonRecord):
    """One graded (question, model, turn). ``score`` is None exactly when the judgment failed."""

    question_id: int
    model: str
    judge: tuple[str, str]  # (judge model, prompt name)
    user_prompt: str
    judgment: str
    score: float | None
    turn: int
    tstamp: float = 0.0
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", "tstamp", "error",
    )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SingleJudgment:
        _check_sample(obj)
        judgment = fields.get(obj, "judgment", str, "a string")
        score = fields.optional_number(obj, "score")
        error = fields.get_optional(obj, "error", str, "a string")
        if score == -1 or score is None:  # FastChat's -1: no rating found (or the API failed)
            score = None
            if error is None:
                error = "api_error" if judgment == FASTCHAT_API_ERROR else "unparseable"
        return cls(
            question_id=fields.question_id(obj),
            model=fields.get(obj, "model", str, "a string"),
            judge=_judge_pair(obj),
            user_prompt=fields.get(obj, "user_prompt", str, "a string"),
            judgment=judgment,
            score=score,
            turn=_turn(obj),
            tstamp=fields.number_or(obj, "tstamp", 0.0),
            error=error,
            extra=fields.extra(obj, cls.FIELDS),
        )


    @property
    def sample(self) -> int:
        """Which of a match's repeated judgments this is (``--judge-samples``); 0 when the file has none."""
        return _sample(self.extra)

    @property
    def key(self) -> tuple[int, str, int, tuple[str, str], int]:
        """A single judgment's identity: (question, model, turn, (judge, prompt), sample); resume and dedupe use it."""
        return (self.question_id, self.model, self.turn, self.judge, self.sample)

    @property
    def failed(self) -> bool:
        return self.score is None


@dataclass(frozen=True)
class PairJudgment(_JsonRecord):
    """One pairwise match: two games, with the answers' positions swapped in game 2."""

    question_id: int
    model_1: str
    model_2: str
    g1_winner: str  # one of WINNERS
    g2_winner: str
    judge: tuple[str, str]
    g1_user_prompt: str
    g1_judgment: str
    g2_user_prompt: str
    g2_judgment: str
    turn: int
    tstamp: float = 0.0
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "question_id", "model_1", "model_2", "g1_winner", "g2_winner", "judge", "g1_user_prompt",
        "g1_judgment", "g2_user_prompt", "g2_judgment", "turn", "tstamp", "error",
    )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PairJudgment:
        _check_sample(obj)
        winners = []
        for key in ("g1_winner", "g2_winner"):
            value = fields.get(obj, key, str, "a string")
            if value not in WINNERS:
                raise FieldError(f"field '{key}' must be one of {', '.join(WINNERS)}; got {fields.describe(value)}")
            winners.append(value)
        return cls(
            question_id=fields.question_id(obj),
            model_1=fields.get(obj, "model_1", str, "a string"),
            model_2=fields.get(obj, "model_2", str, "a string"),
            g1_winner=winners[0],
            g2_winner=winners[1],
            judge=_judge_pair(obj),
            g1_user_prompt=fields.get(obj, "g1_user_prompt", str, "a string"),
            g1_judgment=fields.get(obj, "g1_judgment", str, "a string"),
            g2_user_prompt=fields.get(obj, "g2_user_prompt", str, "a string"),
            g2_judgment=fields.get(obj, "g2_judgment", str, "a string"),
            turn=_turn(obj),
            tstamp=fields.number_or(obj, "tstamp", 0.0),
            error=fields.get_optional(obj, "error", str, "a string"),
            extra=fields.extra(obj, cls.FIELDS),
        )


    @property
    def sample(self) -> int:
        """Which of a match's repeated judgments this is (``--judge-samples``); 0 when the file has none."""
        return _sample(self.extra)

    @property
    def key(self) -> tuple[int, str, str, int, tuple[str, str], int]:
        """A pairwise match's identity: (question, model_1, model_2, turn, (judge, prompt), sample)."""
        return (self.question_id, self.model_1, self.model_2, self.turn, self.judge, self.sample)

    @property
    def failed(self) -> bool:
        return "error" in (self.g1_winner, self.g2_winner)


