"""The `agreement` command's library function: a frozen config in, every comparison's rows out."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.agreement.stats import (
    AgreementRow,
    Comparison,
    bucket,
    compare_with_judge,
    compare_within,
    summarize,
)
from mtbench.agreement.vote_files import judge_label, load_human_votes
from mtbench.agreement.votes import AUTHOR, HUMAN, Vote, VoteKey, votes_from_pair_judgments
from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_pair_judgments
from mtbench.core.records import PairJudgment


@dataclass(frozen=True)
class AgreementConfig:
    """Which judges and votes to compare; checks its own flags once, as one-line user errors."""

    judgment_files: tuple[Path, ...] = ()  # JUDGE_pair.jsonl files, each one judge (named by judge_label)
    human_files: tuple[Path, ...] = ()  # vote files in the mt_bench_human_judgments layout, pooled
    human_vs_human: bool = False
    judge_models: tuple[str, ...] = ()  # judges by name: layout.pair_judgment_file(name), named as given
    layout: BenchLayout = field(default_factory=BenchLayout)

    def __post_init__(self) -> None:
        if self.human_vs_human and not self.human_files:
            raise UserError("--human-vs-human needs --human FILE")


@dataclass(frozen=True)
class AgreementReport:
    rows: tuple[AgreementRow, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _judge_sources(config: AgreementConfig) -> list[tuple[Path, str, list[PairJudgment]]]:
    """(file, label, judgments) of every judge named by file or by name; two judges that share a label are
    told apart by their paths."""
    loaded = [(Path(p), load_pair_judgments(p)) for p in config.judgment_files]
    sources = [(path, judge_label(path, (j.judge[0] for j in found)), found) for path, found in loaded]
    for name in config.judge_models:
        path = config.layout.pair_judgment_file(name)  # the one judge-name -> file-name mapping
        if not path.is_file():
            raise UserError(
                f"--judge-models: no pairwise judgments for {name} at {path}; create them with "
                f"`mtbench judge --mode pairwise-all --judge-model {name}`"
            )
        sources.append((path, name, load_pair_judgments(path)))
    labels = [label for _, label, _ in sources]
    return [(path, label if labels.count(label) == 1 else str(path), found) for path, label, found in sources]


def agreement(config: AgreementConfig) -> AgreementReport:
    """Every judge against every other judge, every judge against the humans, and optionally humans
    against each other."""
    notes: list[str] = []
    judges: dict[str, dict[VoteKey, list[str]]] = {}
    for path, name, judgments in _judge_sources(config):
        if name in judges:
            raise UserError(f"--judgments: {path} is given twice")
        votes = votes_from_pair_judgments(judgments, name)
        if votes.errors:
            notes.append(f"{path}: {votes.errors} matches with a failed game left out")
        if votes.replaced:
            notes.append(f"{path}: {votes.replaced} matches judged more than once; the last one counts")
        if not votes.votes:
            raise UserError(f"{path}: no pairwise judgments to compare")
        judges[name] = bucket(votes.votes)

    humans: dict[VoteKey, list[str]] = {}
    if config.human_files:
        pooled: list[Vote] = []
        for path in config.human_files:
            pooled.extend(load_human_votes(path).votes)
        by_judge: dict[str, list[Vote]] = defaultdict(list)
        for vote in pooled:
            by_judge[vote.judge].append(vote)
        if by_judge.get(AUTHOR):
            notes.append(f"{len(by_judge[AUTHOR])} author votes left out of '{HUMAN}' (as FastChat)")
        humans = bucket(by_judge.get(HUMAN, ()))
        for name, judge_votes in by_judge.items():
            if name in (HUMAN, AUTHOR):
                continue
            if name in judges:
                raise UserError(f"judge {name!r} appears both in a judgment file and in the vote files")
            judges[name] = bucket(judge_votes)
        if not humans:
            raise UserError(f"{', '.join(map(str, config.human_files))}: no expert (human) votes found")

    comparisons: list[tuple[str, list[Comparison]]] = []
    names = list(judges)
    for a, b in itertools.combinations(names, 2):
        comparisons.append((f"{a} vs {b}", compare_with_judge(judges[a], judges[b], a)))
    if humans:
        for name in names:
            comparisons.append((f"{name} vs {HUMAN}", compare_with_judge(judges[name], humans, name)))
        if config.human_vs_human:
            comparisons.append((f"{HUMAN} vs {HUMAN}", compare_within(humans)))
    if not comparisons:
        raise UserError(
            "nothing to compare: give two judgment files (--judgments A_pair.jsonl B_pair.jsonl or "
            "--judge-models A B), or a judge and --human FILE, or --human FILE --human-vs-human"
        )

    turns = sorted({key[0] for votes in [*judges.values(), humans] for key in votes} | {1, 2})
    rows = []
    for label, found in comparisons:
        if not found:
            notes.append(f"{label}: no question, turn and model pair was voted on by both")
        rows.extend(summarize(label, found, turns))
    return AgreementReport(tuple(rows), tuple(notes))
