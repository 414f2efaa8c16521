"""Agreement statistics over votes: who is compared with whom, ratios with and without ties, Cohen's kappa (pure)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mtbench.agreement.votes import TIE, Vote, VoteKey, is_tie, votes_agree
from mtbench.core.errors import UserError


def bucket(votes: Iterable[Vote]) -> dict[VoteKey, list[str]]:
    """Winners by key, each flipped to the key's (sorted) model order."""
    out: dict[VoteKey, list[str]] = defaultdict(list)
    for vote in votes:
        key, winner = vote.oriented()
        out[key].append(winner)
    return dict(out)


# (turn, vote of the first judge, vote of the second)
Comparison = tuple[int, str, str]


def compare_with_judge(judge: Mapping[VoteKey, list[str]], others: Mapping[VoteKey, list[str]], name: str = "the judge"
                       ) -> list[Comparison]:
    """Each vote in ``others`` against ``judge``'s one vote on the same key (keys both have)."""
    out: list[Comparison] = []
    for key in sorted(judge.keys() & others.keys()):
        if len(judge[key]) != 1:
            turn, qid, m1, m2 = key
            raise UserError(
                f"{name} has {len(judge[key])} votes on question {qid}, turn {turn}, {m1} vs {m2}; "
                "a judge compared with others must vote once per question, turn and model pair"
            )
        (mine,) = judge[key]
        out.extend((key[0], mine, theirs) for theirs in others[key])
    return out


def compare_within(votes: Mapping[VoteKey, list[str]]) -> list[Comparison]:
    """Every unordered pair of votes on the same key (human vs human)."""
    return [
        (key[0], a, b)
        for key in sorted(votes)
        for a, b in itertools.combinations(votes[key], 2)
    ]


@dataclass(frozen=True)
class AgreementRow:
    comparison: str  # "gpt-4 vs llama-judge"
    turn: str  # "1", "2", ... or "all"
    ties: bool  # True: ties included (FastChat's "with tie"); False: "without tie"
    total: int
    agree: int
    ratio: float | None  # None when there is nothing to compare
    kappa: float | None  # Cohen's kappa over the same comparisons; None when undefined


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa with every tie label as one category; None without comparisons or when chance is 1."""
    if not pairs:
        return None
    a = [TIE if is_tie(x) else x for x, _ in pairs]
    b = [TIE if is_tie(y) else y for _, y in pairs]
    n = len(pairs)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    chance = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def summarize(comparison: str, comparisons: Sequence[Comparison], turns: Sequence[int] = (1, 2)) -> list[AgreementRow]:
    """FastChat's four lines (per turn, with and without ties), then the same over all turns."""
    rows = []
    for turn in [*turns, None]:
        chosen = [(a, b) for t, a, b in comparisons if turn is None or t == turn]
        for ties in (True, False):
            pairs = chosen if ties else [(a, b) for a, b in chosen if not is_tie(a) and not is_tie(b)]
            agree = sum(votes_agree(a, b) for a, b in pairs)
            rows.append(AgreementRow(
                comparison=comparison,
                turn="all" if turn is None else str(turn),
                ties=ties,
                total=len(pairs),
                agree=agree,
                ratio=agree / len(pairs) if pairs else None,
                kappa=cohen_kappa(pairs),
            ))
    return rows
