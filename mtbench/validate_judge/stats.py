"""validate-judge's numbers (pure): which games to judge, agreement with a CI, and the judge's own habits.

Agreement follows ``mtbench.agreement`` (FastChat's compute_agreement: a judge's one vote per game
against every expert vote on it; two ties of any kind agree; "without ties" drops a comparison where
either side is a tie). Its CI is a percentile bootstrap over questions (the comparisons of one question
share its answers, so they are resampled together), seeded.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mtbench.agreement import VoteKey, cohen_kappa, is_tie, votes_agree
from mtbench.core.records import PairJudgment

TURNS = ("1", "2", "all")


def stratified_sample(games: Sequence[VoteKey], categories: Mapping[int, str], n: int, seed: int) -> list[VoteKey]:
    """``n`` of ``games``, each (turn, category) stratum in proportion to its size (largest remainder),
    drawn within strata by a seeded RNG; all of them when ``n`` is not smaller."""
    if n >= len(games):
        return sorted(games)
    strata: dict[tuple[int, str], list[VoteKey]] = defaultdict(list)
    for g in sorted(games):
        strata[(g[0], categories.get(g[1], "?"))].append(g)
    exact = {s: n * len(gs) / len(games) for s, gs in strata.items()}
    take = {s: int(x) for s, x in exact.items()}
    left = n - sum(take.values())
    for s in sorted(strata, key=lambda s: (-(exact[s] - take[s]), s))[:left]:
        take[s] += 1
    rng = random.Random(seed)
    chosen = [g for s in sorted(strata) for g in rng.sample(strata[s], take[s])]
    return sorted(chosen)


@dataclass(frozen=True)
class Agreement:
    """One comparison on one turn ("1", "2", "all"): with and without ties, each with its CI, and kappa."""

    label: str
    turn: str
    total: int
    with_ties: float | None
    with_ties_ci: tuple[float, float] | None
    without_total: int
    without_ties: float | None
    without_ties_ci: tuple[float, float] | None
    kappa: float | None


def _per_question(comparisons: Sequence[tuple[int, int, str, str]], turn: str) -> dict[int, np.ndarray]:
    """Per question: [agree, total, agree without ties, total without ties]."""
    out: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(4))
    for t, q, a, b in comparisons:
        if turn != "all" and str(t) != turn:
            continue
        row = out[q]
        agree = votes_agree(a, b)
        row[0] += agree
        row[1] += 1
        if not is_tie(a) and not is_tie(b):
            row[2] += agree
            row[3] += 1
    return out


def agreement(label: str, comparisons: Sequence[tuple[int, int, str, str]], *, n_bootstrap: int = 1000,
              seed: int = 0, confidence: float = 0.95) -> list[Agreement]:
    """``comparisons`` are (turn, question_id, vote of the judge, vote of the other); one row per turn."""
    rows = []
    for turn in TURNS:
        per_q = _per_question(comparisons, turn)
        sums = np.sum(list(per_q.values()), axis=0) if per_q else np.zeros(4)
        cis: list[tuple[float, float] | None] = [None, None]
        if per_q and n_bootstrap:
            counts = np.array(list(per_q.values()))
            rng = np.random.default_rng(seed)
            draws = counts[rng.integers(0, len(counts), size=(n_bootstrap, len(counts)))].sum(axis=1)
            lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
            for i, (num, den) in enumerate(((0, 1), (2, 3))):
                ok = draws[:, den] > 0
                if ok.any():
                    ratios = draws[ok, num] / draws[ok, den]
                    cis[i] = (float(np.percentile(ratios, lo)), float(np.percentile(ratios, hi)))
        chosen = [(a, b) for t, _, a, b in comparisons if turn == "all" or str(t) == turn]
        rows.append(Agreement(
            label=label, turn=turn, total=int(sums[1]),
            with_ties=float(sums[0] / sums[1]) if sums[1] else None, with_ties_ci=cis[0],
            without_total=int(sums[3]), without_ties=float(sums[2] / sums[3]) if sums[3] else None,
            without_ties_ci=cis[1], kappa=cohen_kappa(chosen),
        ))
    return rows


@dataclass(frozen=True)
class Difference:
    """Agreement with the experts (with ties) of one side minus the other's, over the same comparisons'
    questions, with a paired bootstrap CI (questions resampled together for both sides)."""

    mine: float
    theirs: float
    ci: tuple[float, float] | None
    games_total: int  # comparisons on my side

    @property
    def points(self) -> float:
        return (self.mine - self.theirs) * 100


def difference(mine: Sequence[tuple[int, int, str, str]], theirs: Sequence[tuple[int, int, str, str]], *,
               n_bootstrap: int = 1000, seed: int = 0, confidence: float = 0.95) -> Difference | None:
    a, b = _per_question(mine, "all"), _per_question(theirs, "all")
    questions = sorted(a.keys() & b.keys())
    if not questions:
        return None
    counts = np.array([[a[q][0], a[q][1], b[q][0], b[q][1]] for q in questions])
    total = counts.sum(axis=0)
    ci = None
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        draws = counts[rng.integers(0, len(counts), size=(n_bootstrap, len(counts)))].sum(axis=1)
        diffs = draws[:, 0] / draws[:, 1] - draws[:, 2] / draws[:, 3]
        lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
        ci = (float(np.percentile(diffs, lo)) * 100, float(np.percentile(diffs, hi)) * 100)
    return Difference(float(total[0] / total[1]), float(total[2] / total[3]), ci, int(total[1]))


@dataclass(frozen=True)
class JudgeHabits:
    """How the judge judged the games: both orders agreeing, ties, and the first position's wins."""

    matches: int
    consistent: float | None  # both games name the same winner (or both a tie)
    tie_rate: float | None  # games judged a tie, of all games with a verdict
    first_position: float | None  # of decisive games, those won by the answer shown first (Assistant A)


def judge_habits(judgments: Iterable[PairJudgment]) -> JudgeHabits:
    matches = consistent = games = ties = decisive = first = 0
    for j in judgments:
        if j.failed:
            continue
        matches += 1
        consistent += j.g1_winner == j.g2_winner
        # g1: model_1 shown as A; g2: model_2 shown as A (so "model_2" winning g2 is a first-position win).
        for winner, shown_first in ((j.g1_winner, "model_1"), (j.g2_winner, "model_2")):
            games += 1
            if winner == "tie":
                ties += 1
            elif winner in ("model_1", "model_2"):
                decisive += 1
                first += winner == shown_first
    return JudgeHabits(matches, consistent / matches if matches else None, ties / games if games else None,
                       first / decisive if decisive else None)
