"""The expert votes validate-judge checks a judge against, and the paper's numbers beside them.

The votes are the Hugging Face dataset ``lmsys/mt_bench_human_judgments``: split ``human`` (3,355 expert and
author votes on six models' answers to the 80 MT-bench questions) and split ``gpt4_pair`` (GPT-4's pairwise
votes on the same games). They are read from a file (``--human FILE``):

- the dataset's JSON layout (a JSON array or JSONL of vote objects; ``mtbench.agreement.load_human_votes``),
  both splits in one file or in two;
- the CSV in ``shared/mt_bench_reference/human_judgments_partial/`` (``human_gpt_comparison.csv``, or the
  ``.zip`` holding it): a third party's join of the two splits, ``_x`` columns the human vote and ``_y``
  the GPT-4 vote. It joins without the turn, so each vote appears several times; each is kept once.

Without a file the dataset would be fetched pinned by revision and checked by sha256 (``HF_PIN``); this
build holds no pin (its revision and checksums could not be recorded without the Hub), so it says so
in one line and asks for ``--human FILE``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mtbench.agreement import AUTHOR, GPT4_PAIR, HUMAN, Vote, load_human_votes
from mtbench.agreement.vote_files import vote_from_json
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError

HF_DATASET = "lmsys/mt_bench_human_judgments"


@dataclass(frozen=True)
class DatasetPin:
    """A revision of a Hugging Face dataset and the sha256 of each file read from it."""

    repo: str
    revision: str | None  # a commit sha; None: not pinned in this build
    files: Mapping[str, str]  # path in the repo -> sha256


# Not pinned: recording the revision and the files' sha256 needs the Hub, which this build could not reach.
# Fill both in (as download/pregenerated.py pins the answers) to let validate-judge fetch the votes itself.
HF_PIN = DatasetPin(HF_DATASET, None, {})

# The MT-bench paper (Zheng et al. 2023, Table 5), turn 1: agreement with the experts.
PAPER_TURN1 = (
    ("paper: GPT-4 vs experts", 0.66, 0.85),  # (who, with ties, without ties)
    ("paper: expert vs expert", 0.63, 0.81),
)
PAPER_GPT4_WITH_TIES = PAPER_TURN1[0][1]


@dataclass(frozen=True)
class ExpertVotes:
    """The expert votes (authors' left out, as FastChat) and GPT-4's votes on the same games."""

    experts: tuple[Vote, ...]
    gpt4: tuple[Vote, ...]
    authors_left_out: int
    source: str


def no_pin_message() -> str:
    return (f"the expert votes ({HF_DATASET}) are not pinned in this build, so they are not fetched: give "
            "{human_files} FILE (the dataset's JSON, or the CSV in shared/mt_bench_reference/human_judgments_partial/)")


def load_expert_votes(paths: Iterable[Path]) -> ExpertVotes:
    """The votes in ``paths``, pooled; a vote given twice (the CSV's join repeats them) counts once."""
    paths = list(paths)
    if not paths:
        if HF_PIN.revision is None:
            raise ConfigError(no_pin_message())
        raise ConfigError("{human_files}: fetching the pinned dataset is not implemented")  # pragma: no cover
    seen: dict[tuple, Vote] = {}
    for path in paths:
        for vote in _votes(Path(path)):
            seen.setdefault((vote.judge, vote.voter, vote.turn, vote.question_id, vote.model_a, vote.model_b), vote)
    votes = list(seen.values())
    experts = tuple(v for v in votes if v.judge == HUMAN)
    if not experts:
        raise UserError(f"{', '.join(map(str, paths))}: no expert (human) votes found")
    return ExpertVotes(experts, tuple(v for v in votes if v.judge == GPT4_PAIR),
                       sum(v.judge == AUTHOR for v in votes), ", ".join(map(str, paths)))


def _votes(path: Path) -> Iterator[Vote]:
    if path.suffix in (".csv", ".zip"):
        yield from _csv_votes(path)
    else:
        yield from load_human_votes(path).votes


_CSV_SIDES = (("winner_x", "judge_x", "turn_x"), ("winner_y", "judge_y", "turn_y"))


def _csv_votes(path: Path) -> Iterator[Vote]:
    """The joined CSV's rows as votes: each row holds one human vote (``_x``) and one GPT-4 vote (``_y``)."""
    csv.field_size_limit(1 << 30)  # its conversations are long fields
    for line, row in _csv_rows(path):
        for winner, judge, turn in _CSV_SIDES:
            obj: dict[str, object] = {"question_id": row.get("question_id"), "model_a": row.get("model_a"),
                   "model_b": row.get("model_b"), "winner": row.get(winner), "judge": row.get(judge),
                   "turn": row.get(turn)}
            try:
                obj["question_id"] = int(row.get("question_id") or "")
                obj["turn"] = int(row.get(turn) or "")
            except ValueError:
                raise UserError(f"{path}:{line}: question_id and {turn} must be integers") from None
            try:
                vote = vote_from_json(obj)
            except ValueError as e:
                raise UserError(f"{path}:{line}: {e}") from None
            yield vote


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise UserError(f"{path}: expected one .csv inside, found {len(names)}")
                text = io.TextIOWrapper(z.open(names[0]), encoding="utf-8", newline="")
                yield from _rows(path, text)
        else:
            with open(path, encoding="utf-8", newline="") as f:
                yield from _rows(path, f)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it ({e})") from None


def _rows(path: Path, f: io.TextIOBase) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(f)
    missing = {"question_id", "model_a", "model_b", *(c for side in _CSV_SIDES for c in side)} - set(reader.fieldnames or ())
    if missing:
        raise UserError(f"{path}: not the joined human/gpt4_pair CSV (no column {', '.join(sorted(missing))})")
    for row in reader:
        yield reader.line_num, row
