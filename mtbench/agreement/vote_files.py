"""Votes from files: ``JUDGE_pair.jsonl`` judgment files, and vote files in the human-judgment layout."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mtbench.agreement.votes import Vote, VoteSet, is_tie, normalize_judge, votes_from_pair_judgments
from mtbench.core.bench import judge_file_stem
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_pair_judgments
from mtbench.core.records import iter_jsonl


def load_pair_votes(path: str | os.PathLike, judge: str | None = None) -> VoteSet:
    """Votes of a ``JUDGE_pair.jsonl`` file; the judge is named by ``judge_label`` unless ``judge`` is given."""
    path = Path(path)
    judgments = load_pair_judgments(path)
    name = judge or judge_label(path, (j.judge[0] for j in judgments))
    return votes_from_pair_judgments(judgments, name)


def judge_label(path: Path, recorded: Iterable[str] = ()) -> str:
    """The judge a pair file stands for: ``.../gpt-4_pair.jsonl`` -> "gpt-4".

    Where the file's records name one judge whose file name (``bench.judge_file_stem``, the mapping
    ``judge`` writes with) is this file's, that real name: ``__path__to__x_pair.jsonl`` holding judge
    ``/path/to/x`` -> "/path/to/x". A file named otherwise keeps its own name.
    """
    stem = path.name.removesuffix(".jsonl")
    label = stem.removesuffix("_pair") or stem
    judges = set(recorded)
    if len(judges) == 1:
        (judge,) = judges
        if judge_file_stem(judge) == label:
            return judge
    return label


def load_human_votes(path: str | os.PathLike) -> VoteSet:
    """Votes in the ``lmsys/mt_bench_human_judgments`` layout: a JSON array of vote objects, or JSONL.

    Fields used: question_id, model_a, model_b, winner ("model_a", "model_b", "tie", "tie (inconsistent)"),
    judge (a string such as "expert_3", or a list such as ["gpt-4", "pair-v2"]) and turn (default 1, as
    FastChat). Other fields (the conversations) are ignored. Errors name ``file:line`` (JSONL) or
    ``file: item N`` (array, counted from 1).
    """
    path = Path(path)
    votes = []
    for where, obj in _vote_objects(path):
        try:
            votes.append(vote_from_json(obj))
        except ValueError as e:
            raise UserError(f"{where}: {e}") from None
    return VoteSet(tuple(votes))


def _vote_objects(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a vote file") from None
    if not head.startswith(b"["):
        for number, obj in iter_jsonl(path):
            yield f"{path}:{number}", obj
        return
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    for i, obj in enumerate(items, 1):
        if not isinstance(obj, dict):
            raise UserError(f"{path}: item {i}: expected a JSON object, got {type(obj).__name__}")
        yield f"{path}: item {i}", obj


def vote_from_json(obj: Mapping[str, Any]) -> Vote:
    def need(key: str, kind: type, what: str) -> Any:
        if key not in obj:
            raise ValueError(f"missing field '{key}'")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"field '{key}' must be {what}, got {json.dumps(value)[:40]}")
        return value

    winner = need("winner", str, "a string")
    if winner not in ("model_a", "model_b") and not is_tie(winner):
        raise ValueError(f"field 'winner' must be model_a, model_b or a tie, got {json.dumps(winner)}")
    turn = obj.get("turn", 1)  # FastChat's default too
    if not isinstance(turn, int) or isinstance(turn, bool) or turn < 1:
        raise ValueError(f"field 'turn' must be 1 or 2, got {json.dumps(turn)}")
    if "judge" not in obj:
        raise ValueError("missing field 'judge'")
    raw_judge = obj["judge"]
    return Vote(
        question_id=need("question_id", int, "an integer"),
        model_a=need("model_a", str, "a string"),
        model_b=need("model_b", str, "a string"),
        winner=winner,
        judge=normalize_judge(raw_judge),
        turn=turn,
        voter=raw_judge if isinstance(raw_judge, str) else "",
    )
