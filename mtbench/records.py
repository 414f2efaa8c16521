"""Typed records for MT-bench files, and the one JSONL reader and writer every command uses.

Field names are FastChat's (questions, model answers, reference answers, judge prompts, single and
pairwise judgments), so files move both ways. Fields we do not know are kept in ``extra`` and written
back, so a round trip loses nothing. Parsing happens once, here, at the file boundary: every error names
``file:line``.

Failures are values: an answer or judgment that failed carries ``error`` (a reason) and no score or
text that could be mistaken for one. FastChat's sentinels (``$ERROR$``, ``ERROR``, score ``-1``) are
recognised on load and reported as failures.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from mtbench.errors import UserError

log = logging.getLogger("mtbench")

FASTCHAT_API_ERROR = "$ERROR$"  # gen_api_answer / gen_judgment write this when every retry failed
FASTCHAT_GEN_ERROR = "ERROR"  # gen_model_answer writes this when generation raised
WINNERS = ("model_1", "model_2", "tie", "error")


class RecordError(UserError):
    """A malformed record; the message starts with ``file:line:``."""


class FieldError(ValueError):
    """Raised by ``from_json``; the reader prefixes it with ``file:line``."""


# ---------------------------------------------------------------------------------------------------
# field checks (pure)


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str, *, optional: bool = False):
    if key not in obj or (optional and obj[key] is None):
        if optional:
            return None
        raise FieldError(f"missing field '{key}'")
    value = obj[key]
    # bool is an int subclass; a question_id of true is still wrong.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise FieldError(f"field '{key}' must be {what}, got {json.dumps(value)}")
    if not isinstance(value, kind):
        raise FieldError(f"field '{key}' must be {what}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else type(value).__name__


def _strings(obj: Mapping[str, Any], key: str, *, optional: bool = False) -> tuple[str, ...] | None:
    value = _get(obj, key, list, "a list of strings", optional=optional)
    if value is None:
        return None
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FieldError(f"field '{key}' must be a list of strings; item {i} is {_describe(item)}")
    return tuple(value)


def _number(obj: Mapping[str, Any], key: str, *, optional: bool = False, default: float | None = None):
    value = _get(obj, key, (int, float), "a number", optional=True)
    if value is None:
        if optional:
            return default
        raise FieldError(f"missing field '{key}'")
    return value


def _extra(obj: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    known = set(known)
    return {k: v for k, v in obj.items() if k not in known}


# ---------------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Question:
    question_id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None  # human hints; shown by browsers, never given to the judge
    required_temperature: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = ("question_id", "category", "turns", "reference", "required_temperature")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Question:
        turns = _strings(obj, "turns")
        if not turns:
            raise FieldError("field 'turns' is empty")
        return cls(
            question_id=_get(obj, "question_id", int, "an integer"),
            category=_get(obj, "category", str, "a string"),
            turns=turns,
            reference=_strings(obj, "reference", optional=True),
            required_temperature=_number(obj, "required_temperature", optional=True),
            extra=_extra(obj, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"question_id": self.question_id, "category": self.category, "turns": list(self.turns)}
        if self.reference is not None:
            out["reference"] = list(self.reference)
        if self.required_temperature is not None:
            out["required_temperature"] = self.required_temperature
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Choice:
    index: int
    turns: tuple[str, ...]

    @classmethod
    def from_json(cls, obj: Any, position: int) -> Choice:
        if not isinstance(obj, dict):
            raise FieldError(f"choices[{position}] must be an object, got {_describe(obj)}")
        try:
            index = _get(obj, "index", int, "an integer", optional=True)
            turns = _strings(obj, "turns")
        except FieldError as e:
            raise FieldError(f"choices[{position}]: {e}") from None
        return cls(index=position if index is None else index, turns=turns)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "turns": list(self.turns)}


@dataclass(frozen=True)
class Answer:
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
        raw_choices = _get(obj, "choices", list, "a list")
        if not raw_choices:
            raise FieldError("field 'choices' is empty")
        return cls(
            question_id=_get(obj, "question_id", int, "an integer"),
            model_id=_get(obj, "model_id", str, "a string"),
            choices=tuple(Choice.from_json(c, i) for i, c in enumerate(raw_choices)),
            answer_id=_get(obj, "answer_id", str, "a string", optional=True) or "",
            tstamp=_number(obj, "tstamp", optional=True, default=0.0),
            error=_get(obj, "error", str, "a string", optional=True),
            extra=_extra(obj, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question_id": self.question_id,
            "answer_id": self.answer_id,
            "model_id": self.model_id,
            "choices": [c.to_json() for c in self.choices],
            "tstamp": self.tstamp,
        }
        if self.error is not None:
            out["error"] = self.error
        out.update(self.extra)
        return out

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
class JudgePrompt:
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
        kind = _get(obj, "type", str, "a string")
        if kind not in ("single", "pairwise"):
            raise FieldError(f"field 'type' must be \"single\" or \"pairwise\", got {_describe(kind)}")
        return cls(
            name=_get(obj, "name", str, "a string"),
            type=kind,
            system_prompt=_get(obj, "system_prompt", str, "a string"),
            prompt_template=_get(obj, "prompt_template", str, "a string"),
            output_format=_get(obj, "output_format", str, "a string"),
            description=_get(obj, "description", str, "a string", optional=True) or "",
            category=_get(obj, "category", str, "a string", optional=True) or "",
            extra=_extra(obj, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "type": self.type,
            "system_prompt": self.system_prompt,
            "prompt_template": self.prompt_template,
            "description": self.description,
            "category": self.category,
            "output_format": self.output_format,
        }
        out.update(self.extra)
        return out


def _judge_pair(obj: Mapping[str, Any]) -> tuple[str, str]:
    judge = _get(obj, "judge", list, "a list [judge_model, prompt_name]")
    if len(judge) != 2 or not all(isinstance(x, str) for x in judge):
        raise FieldError(f"field 'judge' must be [judge_model, prompt_name], got {_describe(judge)}")
    return (judge[0], judge[1])


def _turn(obj: Mapping[str, Any]) -> int:
    turn = _get(obj, "turn", int, "1 or 2")
    if turn < 1:
        raise FieldError(f"field 'turn' must be 1 or more, got {turn}")
    return turn


@dataclass(frozen=True)
class SingleJudgment:
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
        judgment = _get(obj, "judgment", str, "a string")
        score = _number(obj, "score", optional=True)
        error = _get(obj, "error", str, "a string", optional=True)
        if score == -1 or score is None:  # FastChat's -1: no rating found (or the API failed)
            score = None
            if error is None:
                error = "api_error" if judgment == FASTCHAT_API_ERROR else "unparseable"
        return cls(
            question_id=_get(obj, "question_id", int, "an integer"),
            model=_get(obj, "model", str, "a string"),
            judge=_judge_pair(obj),
            user_prompt=_get(obj, "user_prompt", str, "a string"),
            judgment=judgment,
            score=score,
            turn=_turn(obj),
            tstamp=_number(obj, "tstamp", optional=True, default=0.0),
            error=error,
            extra=_extra(obj, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question_id": self.question_id,
            "model": self.model,
            "judge": list(self.judge),
            "user_prompt": self.user_prompt,
            "judgment": self.judgment,
            "score": self.score,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }
        if self.error is not None:
            out["error"] = self.error
        out.update(self.extra)
        return out

    @property
    def key(self) -> tuple[int, str, int, tuple[str, str]]:
        """A single judgment's identity: (question, model, turn, (judge, prompt)); resume and dedupe use it."""
        return (self.question_id, self.model, self.turn, self.judge)

    @property
    def failed(self) -> bool:
        return self.score is None


@dataclass(frozen=True)
class PairJudgment:
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
        winners = []
        for key in ("g1_winner", "g2_winner"):
            value = _get(obj, key, str, "a string")
            if value not in WINNERS:
                raise FieldError(f"field '{key}' must be one of {', '.join(WINNERS)}; got {_describe(value)}")
            winners.append(value)
        return cls(
            question_id=_get(obj, "question_id", int, "an integer"),
            model_1=_get(obj, "model_1", str, "a string"),
            model_2=_get(obj, "model_2", str, "a string"),
            g1_winner=winners[0],
            g2_winner=winners[1],
            judge=_judge_pair(obj),
            g1_user_prompt=_get(obj, "g1_user_prompt", str, "a string"),
            g1_judgment=_get(obj, "g1_judgment", str, "a string"),
            g2_user_prompt=_get(obj, "g2_user_prompt", str, "a string"),
            g2_judgment=_get(obj, "g2_judgment", str, "a string"),
            turn=_turn(obj),
            tstamp=_number(obj, "tstamp", optional=True, default=0.0),
            error=_get(obj, "error", str, "a string", optional=True),
            extra=_extra(obj, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question_id": self.question_id,
            "model_1": self.model_1,
            "model_2": self.model_2,
            "g1_winner": self.g1_winner,
            "g2_winner": self.g2_winner,
            "judge": list(self.judge),
            "g1_user_prompt": self.g1_user_prompt,
            "g1_judgment": self.g1_judgment,
            "g2_user_prompt": self.g2_user_prompt,
            "g2_judgment": self.g2_judgment,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }
        if self.error is not None:
            out["error"] = self.error
        out.update(self.extra)
        return out

    @property
    def key(self) -> tuple[int, str, str, int, tuple[str, str]]:
        """A pairwise match's identity: (question, model_1, model_2, turn, (judge, prompt))."""
        return (self.question_id, self.model_1, self.model_2, self.turn, self.judge)

    @property
    def failed(self) -> bool:
        return "error" in (self.g1_winner, self.g2_winner)


# ---------------------------------------------------------------------------------------------------
# JSONL files


class Record(Protocol):
    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R")
K = TypeVar("K")


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line.

    A final line without its newline that does not parse is a write cut short by a kill: it is
    reported as a warning and skipped, never an error. Any other bad line is a ``RecordError``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a JSONL file") from None
    lines = data.split(b"\n")
    torn_tail = not data.endswith(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == len(lines)
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if last and torn_tail:
                log.warning("%s:%d: incomplete last line (a run stopped mid-write); ignored", path, number)
                return
            raise RecordError(f"{path}:{number}: not valid UTF-8") from None
        except json.JSONDecodeError as e:
            if last and torn_tail:
                log.warning("%s:%d: incomplete last line (a run stopped mid-write); ignored", path, number)
                return
            raise RecordError(f"{path}:{number}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise RecordError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def read_records(path: str | os.PathLike, parse: Callable[[Mapping[str, Any]], R]) -> list[tuple[int, R]]:
    """Parse every line of ``path`` with ``parse`` (a ``from_json``); returns (line number, record)."""
    out = []
    for number, obj in iter_jsonl(path):
        try:
            out.append((number, parse(obj)))
        except FieldError as e:
            raise RecordError(f"{path}:{number}: {e}") from None
    return out


def load_records(path: str | os.PathLike, parse: Callable[[Mapping[str, Any]], R]) -> list[R]:
    return [record for _, record in read_records(path, parse)]


def load_questions(path: str | os.PathLike) -> list[Question]:
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


def load_answers(path: str | os.PathLike) -> dict[int, Answer]:
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


def load_judge_prompts(path: str | os.PathLike) -> dict[str, JudgePrompt]:
    prompts: dict[str, JudgePrompt] = {}
    for number, prompt in read_records(path, JudgePrompt.from_json):
        if prompt.name in prompts:
            raise RecordError(f"{path}:{number}: duplicate judge prompt name {prompt.name!r}")
        prompts[prompt.name] = prompt
    return prompts


def load_single_judgments(path: str | os.PathLike) -> list[SingleJudgment]:
    return load_records(path, SingleJudgment.from_json)


def load_pair_judgments(path: str | os.PathLike) -> list[PairJudgment]:
    return load_records(path, PairJudgment.from_json)


def latest_by_key(records: Iterable[R], key: Callable[[R], K]) -> dict[K, R]:
    """One record per key, the last one in file order (what a rerun that appended meant to keep)."""
    out: dict[K, R] = {}
    for record in records:
        out[key(record)] = record
    return out


def dumps(record: Record) -> str:
    """One JSONL line. ASCII-escaped like FastChat's ``json.dumps``, so our files diff cleanly with theirs."""
    return json.dumps(record.to_json()) + "\n"


def repair_torn_tail(path: Path) -> None:
    """Make ``path`` end on a line boundary before anything is appended to it.

    A kill mid-write leaves a last line without its newline; appending to it would glue the next record
    on and corrupt both. A complete JSON line that only lacks the newline gets one; a fragment is cut.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("%s: dropping an incomplete last line (a run stopped mid-write)", path)
            f.truncate(cut)
        else:
            f.seek(0, os.SEEK_END)
            f.write(b"\n")


class JsonlWriter:
    """Append-only writer: each record is one line, flushed as soon as it is written.

    A process killed at any moment leaves every written record intact and at most one torn last line,
    which readers skip and the next writer repairs.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = None

    def __enter__(self) -> JsonlWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")
        return self

    def write(self, record: Record) -> None:
        assert self._file is not None, "use JsonlWriter as a context manager"
        self._file.write(dumps(record))
        self._file.flush()

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def rewrite_jsonl(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """Replace ``path`` with ``records`` atomically (temp file, then rename): a kill leaves old or new.

    The temp file has a name of its own per call, and is removed when writing fails (a full disk),
    so a failed rewrite leaves the original untouched and nothing behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for record in records:
                f.write(dumps(record))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file beside an output file: hidden, so no reader's ``*.jsonl`` glob ever sees it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def exclusive_output(path: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold ``path`` for one run, from before it reads what is done until its last write.

    Two runs on one file would each plan the same work, pay for it twice and, where a run rewrites
    its file at the end, lose the other's appends. The second run is refused with one line instead.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    lock = FileLock(lock_path(path), timeout=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        lock.acquire()
    except Timeout:
        raise UserError(
            f"another mtbench {command} is writing {path}; wait for it to finish (or stop it), "
            "then rerun to resume"
        ) from None
    except OSError as e:
        # Checked before any model is loaded or any call is paid for.
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        yield
    finally:
        lock.release()
