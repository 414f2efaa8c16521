"""Finished turns of questions not answered yet, kept beside the answer file so a kill does not lose them.

An answer record is written only when every turn of a question is done, so a run killed while
answering used to throw away each turn 1 already paid for; the rerun asked it again. Both answer
commands now append each finished turn that has a turn after it (turn 1 of MT-bench's two) to a
sidecar, ``MODEL.jsonl.partial``, one JSON line per (question, choice, turn), flushed at once (the
same kill-safe append as the answer file: a torn last line is skipped). A rerun continues those
conversations from the next turn with the same earlier text in their history; a reply is reused only
by a run with the same settings (model, temperature, token limit, system prompt, seed...: the
``settings`` fingerprint the command passes), otherwise it is asked again.

The answer file keeps FastChat's format: nothing partial is ever written into it, and the sidecar's
name does not end in ``.jsonl``, so no ``*.jsonl`` reader (FastChat's included) sees it. When a run
on the answer file ends, ``prune_partial`` drops the lines of questions the answer file now answers
without a failure, and the sidecar itself once nothing is left in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.core.jsonl import JsonlWriter, RecordError, dumps, iter_jsonl, read_lines, rewrite_lines
from mtbench.core.reasoning import SplitReply

log = logging.getLogger("mtbench")


def partial_path(answer_file: Path) -> Path:
    """The sidecar of an answer file: ``m1.jsonl`` -> ``m1.jsonl.partial`` (no ``*.jsonl`` glob sees it)."""
    return answer_file.with_name(answer_file.name + ".partial")


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable digest of what a turn's text depends on, so a run with other settings never reuses it."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PartialTurn:
    """One finished turn of one choice of one question."""

    question_id: int
    choice: int
    turn: int  # 1-based
    reply: SplitReply
    settings: str  # the fingerprint of the run that made it
    finish_reason: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens of its call

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id, "choice": self.choice, "turn": self.turn,
            "answer": self.reply.answer, "reasoning": self.reply.reasoning, "cut": self.reply.cut,
            "finish_reason": self.finish_reason, "usage": dict(self.usage), "settings": self.settings,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PartialTurn:
        reasoning = obj.get("reasoning")
        return cls(
            question_id=int(obj["question_id"]), choice=int(obj["choice"]), turn=int(obj["turn"]),
            reply=SplitReply(answer=str(obj["answer"]), reasoning=None if reasoning is None else str(reasoning),
                             cut=bool(obj.get("cut", False))),
            settings=str(obj["settings"]), finish_reason=obj.get("finish_reason"),
            usage={k: int(v) for k, v in dict(obj.get("usage") or {}).items()},
        )


def _read(path: Path) -> list[PartialTurn]:
    """The sidecar's turns; a line that is not one (or an unreadable file) is skipped with a warning:
    the sidecar only saves calls, it is never worth stopping a run for."""
    turns: list[PartialTurn] = []
    try:
        for number, obj in iter_jsonl(path):
            try:
                turns.append(PartialTurn.from_json(obj))
            except (KeyError, TypeError, ValueError) as e:
                log.warning("%s:%d: not a saved turn (%s); ignored", path, number, e)
    except RecordError as e:
        log.warning("%s; its saved turns are asked again", e)
    return turns


class PartialTurns:
    """The saved turns of one answer file for one run: read on entry, appended as turns finish."""

    def __init__(self, answer_file: Path, settings: Mapping[str, Any]):
        self.path = partial_path(answer_file)
        self.settings = fingerprint(settings)
        self._saved: dict[tuple[int, int, int], PartialTurn] = {}
        if self.path.is_file():
            for turn in _read(self.path):
                if turn.settings == self.settings:
                    self._saved[turn.question_id, turn.choice, turn.turn] = turn
        self._stack = contextlib.ExitStack()
        self._writer: JsonlWriter | None = None
        self.reused = 0  # turns handed out again by ``replies``
        self._failed = False

    def __enter__(self) -> PartialTurns:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # closing flushes nothing: each line was flushed when written
            self._stack.close()

    def saved(self, question_id: int, choice: int) -> list[PartialTurn]:
        """The saved turns 1..n of a conversation, in order (stopping at the first one missing)."""
        out: list[PartialTurn] = []
        while (turn := self._saved.get((question_id, choice, len(out) + 1))) is not None:
            out.append(turn)
        return out

    def replies(self, question_id: int, choice: int, turns: int) -> list[SplitReply]:
        """The saved replies to continue from, never the last turn's (that would be a whole answer)."""
        replies = [t.reply for t in self.saved(question_id, choice)][: max(0, turns - 1)]
        self.reused += len(replies)
        return replies

    def record(self, turn: PartialTurn) -> None:
        """Append one finished turn and flush it (the file is created with the first one).

        A save that fails (a full disk) stops the saving: the sidecar only spares calls, and the answer
        file's own write then reports the disk as the run's error."""
        self._saved[turn.question_id, turn.choice, turn.turn] = turn
        if self._failed:
            return
        try:
            if self._writer is None:
                self._writer = self._stack.enter_context(JsonlWriter(self.path))
            self._writer.write(turn)
        except OSError as e:
            # not a warning: the disk is full, so the answer file's next write fails and says so (one line)
            self._failed = True
            log.debug("%s: %s; finished turns are no longer saved", self.path, e.strerror or e)

    def save(self, question_id: int, choice: int, turn: int, reply: SplitReply, finish_reason: str | None = None,
             usage: Mapping[str, int] | None = None) -> None:
        self.record(PartialTurn(question_id, choice, turn, reply, self.settings, finish_reason, dict(usage or {})))


def prune_partial(answer_file: Path, answered: set[int]) -> None:
    """Drop the saved turns of ``answered`` questions (answered without a failure); remove the sidecar
    once it is empty. Atomic (a kill leaves the old sidecar or the new one)."""
    path = partial_path(answer_file)
    if not path.is_file():
        return
    lines, _ = read_lines(path)
    keep = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            turn = PartialTurn.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            continue  # a torn line: nothing to keep
        if turn.question_id not in answered:
            keep.append(dumps(turn).rstrip("\n").encode("ascii"))
    try:
        if not keep:
            path.unlink()
        elif len(keep) != sum(1 for raw in lines if raw.strip()):
            rewrite_lines(path, keep)
    except OSError as e:  # spent lines left behind are skipped by the next run: never worth failing one
        log.warning("%s: could not drop the spent saved turns: %s", path, e.strerror or e)
