"""Single grading's length bias and self-preference (pure; ``mtbench bias``).

Spearman correlations are resampled by repeating each drawn question's answers as often as it was drawn
(the same draw counts as every other CI here). The within-question correlation first subtracts each
(question, turn)'s mean score and mean log length, so a long answer is compared only with the other
answers to the same question: MT-bench's math answers are short and its writing answers long, and the
pooled correlation mixes that in.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mtbench.show_result.bias import NAN_RATE, Rate, ratio_rate
from mtbench.show_result.stats import DEFAULT_CONFIDENCE


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import ConstantInputWarning, spearmanr  # here: importing show_result stays light

    if len(x) < 3:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(spearmanr(x, y).statistic)


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks (from 1) of ``x`` in each resample that repeats row i ``w[b, i]`` times: (n_boot, n).

    A row repeated k times, tied with itself, takes the mean of the k ranks it spans, as ``rankdata``
    gives the expanded sample; so the correlation below equals ``spearmanr`` of the expanded rows.
    """
    values, inverse = np.unique(x, return_inverse=True)
    per_value = np.zeros((w.shape[0], len(values)))
    for b in range(w.shape[0]):  # bincount per resample: cheap, and no (n_boot, n, n_values) array
        per_value[b] = np.bincount(inverse, w[b], len(values))
    below = np.cumsum(per_value, axis=1) - per_value
    return (below + (per_value + 1.0) / 2.0)[:, inverse]


def _weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = a - (w * a).sum(axis=1, keepdims=True) / total
        db = b - (w * b).sum(axis=1, keepdims=True) / total
        return (w * da * db).sum(axis=1) / np.sqrt((w * da**2).sum(axis=1) * (w * db**2).sum(axis=1))


def spearman_rate(
    x: np.ndarray, y: np.ndarray, question: np.ndarray, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> Rate:
    """Spearman of x with y, CI by resampling questions (``weights``: draw counts per question index)."""
    value = _spearman(x, y)
    if math.isnan(value) or weights.shape[0] == 0:
        return Rate(value, (math.nan, math.nan), len(x))
    w = weights[:, question]  # each row repeated as often as its question was drawn
    draws = _weighted_pearson(_weighted_ranks(x, w), _weighted_ranks(y, w), w)
    draws = draws[w.sum(axis=1) >= 3]
    finite = draws[~np.isnan(draws)]
    if finite.size == 0:
        return Rate(value, (math.nan, math.nan), len(x))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Rate(value, (float(low), float(high)), len(x))


def within_group(values: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """values minus their group's mean, and which rows are in a group of at least two (the others carry nothing)."""
    n_g = int(group.max()) + 1 if len(group) else 0
    counts = np.bincount(group, minlength=n_g)
    means = np.bincount(group, values, n_g) / np.maximum(counts, 1)
    return values - means[group], counts[group] >= 2


@dataclass(frozen=True)
class Quartile:
    """Answers in one length quartile (pooled over models): their length range and mean score with CI."""

    quartile: int
    length_low: int
    length_high: int
    mean_score: Rate

    def to_json(self) -> dict[str, object]:
        return {"quartile": self.quartile, "length_range": [self.length_low, self.length_high],
                "mean_score": self.mean_score.to_json()}


def length_quartiles(
    lengths: np.ndarray, scores: np.ndarray, question: np.ndarray, n_q: int, weights: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[Quartile]:
    """Mean score of the answers in each quartile of length (ties in length go to the lower quartile)."""
    if len(lengths) < 4:
        return []
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    which = np.searchsorted(edges, lengths, side="left")  # 0..3
    out = []
    for k in range(4):
        mask = which == k
        if not mask.any():
            continue
        num = np.bincount(question[mask], scores[mask], n_q)
        den = np.bincount(question[mask], minlength=n_q).astype(np.float64)
        out.append(Quartile(k + 1, int(lengths[mask].min()), int(lengths[mask].max()),
                            ratio_rate(num, den, weights, confidence)))
    return out


@dataclass(frozen=True)
class Points:
    """A judge's verdicts as per-question sums for each model: score (or win points: 1, tie 1/2) and count."""

    questions: tuple[int, ...]
    points: Mapping[str, np.ndarray]  # per model, aligned with ``questions``
    counts: Mapping[str, np.ndarray]


def points_from(rows: Sequence[tuple[str, int, float]]) -> Points:
    """Per-question sums of (model, question_id, points) rows."""
    questions = tuple(sorted({q for _, q, _ in rows}))
    q_index = {q: i for i, q in enumerate(questions)}
    points: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for model, qid, value in rows:
        if model not in points:
            points[model] = np.zeros(len(questions))
            counts[model] = np.zeros(len(questions))
        points[model][q_index[qid]] += value
        counts[model][q_index[qid]] += 1
    return Points(questions, points, counts)


def _aligned(p: Points, questions: Sequence[int], model: str) -> tuple[np.ndarray, np.ndarray]:
    index = {q: i for i, q in enumerate(p.questions)}
    num, den = np.zeros(len(questions)), np.zeros(len(questions))
    for k, q in enumerate(questions):
        if q in index:
            num[k] = p.points[model][index[q]]
            den[k] = p.counts[model][index[q]]
    return num, den


def self_preference(
    judge: Points, reference: Points, family: Sequence[str], weights_for, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[Rate, dict[str, Rate]]:
    """How much more the judge gives its own family than the reference judge does, beyond the other models.

    Per model: its mean under the judge minus under the reference, over the questions both judged. Overall:
    the family's mean difference minus the other models' (the family's alone when no other model is in both).
    ``weights_for(n)``: the bootstrap draw counts for ``n`` questions.
    """
    models = sorted(set(judge.points) & set(reference.points))
    questions = sorted(set(judge.questions) & set(reference.questions))
    weights = weights_for(len(questions))
    diffs: dict[str, np.ndarray] = {}  # per model: (1 + n_boot) values, the estimate then each resample
    per_model: dict[str, Rate] = {}
    alpha = (1.0 - confidence) / 2.0
    for m in models:
        jn, jd = _aligned(judge, questions, m)
        rn, rd = _aligned(reference, questions, m)
        both = (jd > 0) & (rd > 0)
        jn, jd, rn, rd = (a * both for a in (jn, jd, rn, rd))
        w = np.vstack([np.ones(len(questions)), weights])
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (w @ jn) / (w @ jd) - (w @ rn) / (w @ rd)
        diffs[m] = d
        per_model[m] = _from_draws(d, alpha, int(jd.sum()))
    inside = [m for m in models if m in family]
    outside = [m for m in models if m not in family]
    if not inside:
        return NAN_RATE, per_model
    total = np.nanmean([diffs[m] for m in inside], axis=0)
    if outside:
        total = total - np.nanmean([diffs[m] for m in outside], axis=0)
    return _from_draws(total, alpha, sum(per_model[m].n for m in inside)), per_model


def _from_draws(d: np.ndarray, alpha: float, n: int) -> Rate:
    draws = d[1:][~np.isnan(d[1:])]
    if draws.size == 0:
        return Rate(float(d[0]), (math.nan, math.nan), n)
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return Rate(float(d[0]), (float(low), float(high)), n)
