"""Repeated judging (``mtbench judge --judge-samples N``): one score per match, and how noisy the judge is (pure).

A match judged N times has N records, ``sample`` 0..N-1 (a file without the field is one sample). The
tables aggregate a match's valid samples first (median by default), then average as before. The judge's
noise is shown two ways: the spread of a model's score between samples (each sample's mean over the
questions), and a two-level bootstrap that resamples questions and, within each (question, turn), the
samples: an interval that holds both the question set's and the judge's variation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment, SingleJudgment

AGGREGATES = ("median", "mean")
DEFAULT_AGGREGATE = "median"

Item = tuple[int, int]  # (question_id, turn)


def check_aggregate(how: str) -> str:
    if how not in AGGREGATES:
        raise UserError(f"--aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}")
    return how


def _aggregate(values: Sequence[float], how: str) -> float:
    return float(np.median(values) if how == "median" else np.mean(values))


def sample_count(judgments: Iterable[SingleJudgment | PairJudgment]) -> int:
    """How many samples the file's matches have at most (1 for a file without ``sample``)."""
    return max((j.sample for j in judgments), default=0) + 1


def aggregate_single(judgments: Sequence[SingleJudgment], how: str = DEFAULT_AGGREGATE) -> list[SingleJudgment]:
    """One record per match (deduped records in): the median or mean of its valid samples' scores.

    A match whose every sample failed stays one failed record. A match of one sample is returned as it is.
    """
    groups: dict[tuple, list[SingleJudgment]] = defaultdict(list)
    for j in judgments:
        groups[j.key[:4]].append(j)
    out = []
    for records in groups.values():
        valid = [r.score for r in records if r.score is not None]
        if len(records) == 1 or not valid:
            out.append(records[0])
        else:
            out.append(replace(records[0], score=_aggregate(valid, how), error=None))
    return out


def item_scores(judgments: Iterable[SingleJudgment], model: str) -> dict[Item, list[float]]:
    """The valid scores of ``model``'s samples for each (question, turn), in sample order."""
    cells: dict[Item, list[tuple[int, float]]] = defaultdict(list)
    for j in judgments:
        if j.model == model and j.score is not None:
            cells[(j.question_id, j.turn)].append((j.sample, j.score))
    return {item: [s for _, s in sorted(v)] for item, v in cells.items()}


@dataclass(frozen=True)
class Spread:
    """How much a model's score moves between samples: each sample's mean over its valid scores."""

    samples: int
    sd: float  # standard deviation of the per-sample means (ddof 1; 0 with one sample)
    low: float
    high: float


def noise_spread(judgments: Iterable[SingleJudgment], model: str) -> Spread:
    """The spread of ``model``'s per-sample means (deduped records in)."""
    by_sample: dict[int, list[float]] = defaultdict(list)
    for j in judgments:
        if j.model == model and j.score is not None:
            by_sample[j.sample].append(j.score)
    means = np.array([np.mean(v) for _, v in sorted(by_sample.items())])
    if means.size == 0:
        return Spread(0, float("nan"), float("nan"), float("nan"))
    sd = float(np.std(means, ddof=1)) if means.size > 1 else 0.0
    return Spread(int(means.size), sd, float(means.min()), float(means.max()))


def resampled_items(
    cells: Mapping[Item, Sequence[float]], items: Sequence[Item], n_bootstrap: int, rng: np.random.Generator,
    how: str,
) -> np.ndarray:
    """(n_bootstrap, items): each item's aggregate over its samples drawn again with replacement.

    An item with one sample keeps its score in every resample; one with none is NaN.
    """
    width = max((len(cells.get(i, ())) for i in items), default=0)
    values = np.full((len(items), max(width, 1)), np.nan)
    k = np.zeros(len(items), dtype=np.int64)
    for row, item in enumerate(items):
        scores = cells.get(item, ())
        values[row, : len(scores)] = scores
        k[row] = len(scores)
    if width <= 1:
        return np.broadcast_to(values[:, 0], (n_bootstrap, len(items)))
    draws = np.floor(rng.random((n_bootstrap, len(items), width)) * np.maximum(k, 1)[None, :, None]).astype(np.int64)
    picked = values[np.arange(len(items))[None, :, None], draws]
    picked = np.where(np.arange(width)[None, None, :] < k[None, :, None], picked, np.nan)
    out = np.full((n_bootstrap, len(items)), np.nan)
    has = k > 0
    with np.errstate(invalid="ignore"):
        agg = np.nanmedian if how == "median" else np.nanmean
        out[:, has] = agg(picked[:, has, :], axis=2)
    return out


def pooled_ci(
    item_values: np.ndarray, item_question: np.ndarray, weights: np.ndarray, confidence: float
) -> tuple[float, float]:
    """Percentile CI of the mean over items, each resample weighting items by their question's draw count."""
    if weights.shape[0] == 0 or item_values.shape[1] == 0:
        return float("nan"), float("nan")
    w = weights[:, item_question]  # (n_bootstrap, items)
    valid = ~np.isnan(item_values)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (w * np.where(valid, item_values, 0.0)).sum(axis=1) / (w * valid).sum(axis=1)
    alpha = (1.0 - confidence) / 2.0
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def majority_outcome(outcomes: Sequence[str]) -> str:
    """A match's verdict over its samples: the most frequent outcome; a tie for first place is a tie."""
    ranked = Counter(outcomes).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "tie"
    return ranked[0][0]


@dataclass(frozen=True)
class PairSamples:
    """Pairwise matches reduced to one record each, with what the samples said about the judge."""

    records: list[PairJudgment]  # one per match; a multi-sample match carries its majority verdict
    consistency: dict[tuple, float]  # match -> share of its valid samples whose two games agree
    agreement: float  # share of sample pairs (within a match) with the same outcome; NaN with one sample


def majority_pairs(judgments: Sequence[PairJudgment], outcome_of) -> PairSamples:
    """One record per match (deduped records in); ``outcome_of(g1, g2)`` is the two games' combined verdict."""
    groups: dict[tuple, list[PairJudgment]] = defaultdict(list)
    for j in judgments:
        groups[j.key[:5]].append(j)
    records, consistency = [], {}
    agree = pairs = 0
    for key, group in groups.items():
        valid = [r for r in group if not r.failed]
        if len(group) == 1 or not valid:
            records.append(group[0])
            consistency[key] = float(group[0].g1_winner == group[0].g2_winner)
            continue
        outcomes = [outcome_of(r.g1_winner, r.g2_winner) for r in valid]
        verdict = majority_outcome(outcomes)
        records.append(replace(valid[0], g1_winner=verdict, g2_winner=verdict, error=None))
        consistency[key] = sum(r.g1_winner == r.g2_winner for r in valid) / len(valid)
        for a, b in combinations(outcomes, 2):
            pairs += 1
            agree += a == b
    return PairSamples(records, consistency, agree / pairs if pairs else float("nan"))
