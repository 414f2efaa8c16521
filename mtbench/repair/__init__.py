"""Setting aside the lines of a record file that are not records, so judge, show and the rest read it again.

A kill mid-write leaves at most a torn last line, which readers skip. A torn line with more lines after
it (a run killed mid-write, then another run that appended) or a line edited by hand stops every reader
at ``file:line``. ``repair_file`` moves each such line, byte for byte, to a side file beside the file
(``NAME.jsonl.rejected``: no reader's ``*.jsonl`` glob picks it up as a model or a judge), then rewrites
the file with its good lines, unchanged, atomically, while holding the file's run lock so it cannot
race a judge or an answer run writing it.

What a file holds is told by its name and folder, FastChat's layout (``kind_of``), or given as a kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.core.errors import UserError
from mtbench.core.jsonl import FieldError, exclusive_output, parse_line, read_lines, rewrite_lines
from mtbench.core.records import Answer, JudgePrompt, PairJudgment, Question, SingleJudgment

# kind -> (what one line is, in words; its parser)
KINDS: dict[str, tuple[str, Callable[[Mapping[str, Any]], object]]] = {
    "question": ("question", Question.from_json),
    "answer": ("answer", Answer.from_json),
    "judge-prompt": ("judge prompt", JudgePrompt.from_json),
    "single": ("single judgment", SingleJudgment.from_json),
    "pair": ("pairwise judgment", PairJudgment.from_json),
}
SIDE_SUFFIX = ".rejected"


def kind_of(path: Path) -> str:
    """The record kind FastChat's layout implies for ``path``, or a UserError asking for ``--kind``.

    ``model_answer/`` and ``reference_answer/`` hold answers; ``*_single.jsonl`` and ``*_pair.jsonl``
    (in ``model_judgment/`` or anywhere) single and pairwise judgments; ``question.jsonl`` questions;
    ``judge_prompts.jsonl`` judge prompts. The folder decides first: ``model_answer/x_pair.jsonl`` is
    the answers of a model named ``x_pair``.
    """
    folder, name = path.parent.name, path.name
    if folder in ("model_answer", "reference_answer") and name.endswith(".jsonl"):
        return "answer"
    if name == "question.jsonl":
        return "question"
    if name == "judge_prompts.jsonl":
        return "judge-prompt"
    if name.endswith("_single.jsonl"):
        return "single"
    if name.endswith("_pair.jsonl"):
        return "pair"
    raise UserError(
        f"{path}: cannot tell what it holds from its name or folder (model_answer/*.jsonl, *_single.jsonl, "
        f"*_pair.jsonl, question.jsonl, judge_prompts.jsonl); say it with --kind {{{','.join(KINDS)}}}"
    )


def side_file(path: Path) -> Path:
    """Where the bad lines of ``path`` go: beside it, named so no ``*.jsonl`` glob reads it."""
    return path.with_name(path.name + SIDE_SUFFIX)


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str
    raw: bytes


@dataclass(frozen=True)
class RepairOutcome:
    path: Path
    kind: str
    kept: int  # records left in the file (or that would be, in a dry run)
    bad: tuple[BadLine, ...]
    side_file: Path
    written: bool  # False when the file was clean, or in a dry run

    @property
    def record_name(self) -> str:
        return KINDS[self.kind][0]


@dataclass(frozen=True)
class RepairConfig:
    files: tuple[Path, ...]
    kind: str | None = None  # None: each file's kind from its name and folder
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not self.files:
            raise UserError("name at least one file to repair")
        if self.kind is not None and self.kind not in KINDS:
            raise UserError(f"--kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        for path in self.files:
            if not path.exists():
                raise UserError(f"{path}: no such file")
            if not path.is_file():
                raise UserError(f"{path}: not a file")
            if self.kind is None:
                kind_of(path)  # every file's kind is known before any file is touched

    def kind_for(self, path: Path) -> str:
        return self.kind or kind_of(path)


def find_bad_lines(path: Path, kind: str) -> tuple[list[bytes], list[BadLine]]:
    """The lines of ``path`` that are records of ``kind`` (as they are) and those that are not."""
    parse = KINDS[kind][1]
    good: list[bytes] = []
    bad: list[BadLine] = []
    lines, torn_tail = read_lines(path)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            parse_line(raw, parse)
        except FieldError as e:
            torn = number == len(lines) and torn_tail
            bad.append(BadLine(number, f"{e} (incomplete last line)" if torn else str(e), raw))
        else:
            good.append(raw)
    return good, bad


def repair_file(path: Path, kind: str, *, dry_run: bool = False) -> RepairOutcome:
    """Move the lines of ``path`` that are not ``kind`` records to its side file; keep the rest as they are.

    The side file is appended to and synced before the file is rewritten, so a kill in between leaves
    a bad line in both places, never in neither. A dry run reads only (and takes no lock).
    """
    if dry_run:
        good, bad = find_bad_lines(path, kind)
        return RepairOutcome(path, kind, len(good), tuple(bad), side_file(path), written=False)
    with exclusive_output(path, "repair"):
        good, bad = find_bad_lines(path, kind)  # read under the lock: nobody appends meanwhile
        if not bad:
            return RepairOutcome(path, kind, len(good), (), side_file(path), written=False)
        side = side_file(path)
        with open(side, "ab") as f:
            for line in bad:
                f.write(line.raw + b"\n")
            f.flush()
            os.fsync(f.fileno())
        rewrite_lines(path, good)
        return RepairOutcome(path, kind, len(good), tuple(bad), side, written=True)


def repair(config: RepairConfig) -> list[RepairOutcome]:
    """Repair each file of ``config`` in turn; returns what was (or, in a dry run, would be) done per file."""
    return [repair_file(path, config.kind_for(path), dry_run=config.dry_run) for path in config.files]
