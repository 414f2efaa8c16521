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
from mtbench.agreement.vote_files import judge_label, load_human_votes, load_pair_votes
from mtbench.agreement.votes import AUTHOR, HUMAN, Vote, VoteKey
from mtbench.errors import UserError


@dataclass(frozen=True)
class AgreementConfig:
    judgment_files: tuple[Path, ...] = ()  # JUDGE_pair.jsonl files, each one judge
    human_files: tuple[Path, ...] = ()  # vote files in the mt_bench_human_judgments layout, pooled
    human_vs_human: bool = False


@dataclass(frozen=True)
class AgreementReport:
    rows: tuple[AgreementRow, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def agreement(config: AgreementConfig) -> AgreementReport:
    """Every judge against every other judge, every judge against the humans, and optionally humans
    against each other."""
    notes: list[str] = []
    judges: dict[str, dict[VoteKey, list[str]]] = {}
    labels = [judge_label(Path(p)) for p in config.judgment_files]
    for path, label in zip(config.judgment_files, labels, strict=True):
        name = label if labels.count(label) == 1 else str(path)
        if name in judges:
            raise UserError(f"--judgments: {path} is given twice")
        votes = load_pair_votes(path, name)
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
        for name, votes in by_judge.items():
            if name in (HUMAN, AUTHOR):
                continue
            if name in judges:
                raise UserError(f"judge {name!r} appears both in a judgment file and in the vote files")
            judges[name] = bucket(votes)
        if not humans:
            raise UserError(f"{', '.join(map(str, config.human_files))}: no expert (human) votes found")
    elif config.human_vs_human:
        raise UserError("--human-vs-human needs --human FILE")

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
