"""A jury's numbers as pure functions of arrays: its scores and their CIs, and how much its judges agree.

Arrays hold NaN where a judge has no usable judgment (it failed, or never judged the match): such a
judge is left out of that match's mean or vote, and the match keeps the others'.

- Single mode: ``scores`` is (models, questions, turns, judges). A match's jury score is the mean of its
  judges' scores; a model's score is the mean of its matches' jury scores (both turns pooled, FastChat's
  overall score).
- Pairwise: ``votes`` is (matches, judges), +1 where model_1 won, -1 where model_2 won, 0 a tie. A match's
  jury verdict is the strict majority of its judges' votes; anything else (a split) is a tie.
- CIs resample both questions and judges (a two-level bootstrap: the same judge weights for every
  question in a resample), so a CI says how much the score would move with other questions *and* other
  judges of the same kind. A jury of one judge gets the question-only interval.

Agreement: Krippendorff's alpha with the ordinal metric (scores), Fleiss' kappa (verdicts), Spearman's
rho between two judges' model rankings, and the effective number of independent judges, the participation
ratio of the eigenvalues of the judges' correlation matrix, (sum lambda)^2 / sum lambda^2: n for judges that
are uncorrelated, 1 for judges that say the same thing (Kish's n / (1 + (n - 1) r) for equal correlations r).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from mtbench.show_result.stats import DEFAULT_CONFIDENCE, bootstrap_weights


def _quantiles(stats: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of (n_bootstrap, rows); NaN where no resample has a value."""
    alpha = (1.0 - confidence) / 2.0
    if stats.shape[0] == 0:
        nan = np.full(stats.shape[1], np.nan)
        return nan, nan.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        low, high = np.nanquantile(stats, [alpha, 1.0 - alpha], axis=0)
    return low, high


def judge_weights(n_judges: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, judges) draw counts; all ones for a single judge (nothing to resample)."""
    if n_judges <= 1:
        return np.ones((max(n_bootstrap, 0), n_judges))
    return bootstrap_weights(n_judges, n_bootstrap, seed + 1)  # another stream than the questions'


def match_means(scores: np.ndarray) -> np.ndarray:
    """Each match's jury score: the mean of the judges that scored it (NaN where none did)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(scores, axis=-1)


def model_means(scores: np.ndarray) -> np.ndarray:
    """Per model (first axis), the mean of its matches' jury scores (both turns pooled)."""
    means = match_means(scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(means.reshape(means.shape[0], -1), axis=1)


def jury_score_ci(scores: np.ndarray, n_bootstrap: int, seed: int,
                  confidence: float = DEFAULT_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Per model, the percentile CI of the jury's score, resampling questions and judges together."""
    models, questions, _, judges = scores.shape
    if n_bootstrap <= 0 or questions == 0:
        nan = np.full(models, np.nan)
        return nan, nan.copy()
    wq = bootstrap_weights(questions, n_bootstrap, seed)  # (B, Q)
    wj = judge_weights(judges, n_bootstrap, seed)  # (B, J)
    present = ~np.isnan(scores)
    filled = np.where(present, scores, 0.0)
    num = np.einsum("mqtj,bj->bmqt", filled, wj)
    den = np.einsum("mqtj,bj->bmqt", present.astype(np.float64), wj)
    with np.errstate(invalid="ignore", divide="ignore"):
        jury = num / den  # (B, M, Q, T): NaN where no drawn judge scored the match
    valid = ~np.isnan(jury)
    per_q = np.where(valid, jury, 0.0).sum(axis=3)  # (B, M, Q)
    count_q = valid.sum(axis=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = np.einsum("bmq,bq->bm", per_q, wq) / np.einsum("bmq,bq->bm", count_q.astype(np.float64), wq)
    return _quantiles(stats, confidence)


def majority(votes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per match (row), the jury's verdict: +1 or -1 where more than half of the (weighted) votes cast say
    so, 0 otherwise (a split or a tie); NaN where no judge voted."""
    votes = np.asarray(votes, dtype=np.float64)
    w = np.ones(votes.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    cast = ~np.isnan(votes)
    total = cast.astype(np.float64) @ w
    one = (votes == 1).astype(np.float64) @ w
    two = (votes == -1).astype(np.float64) @ w
    out = np.where(one * 2 > total, 1.0, np.where(two * 2 > total, -1.0, 0.0))
    return np.where(total > 0, out, np.nan)


def adjusted_win_rate_ci(votes: np.ndarray, sign: np.ndarray, question: np.ndarray, n_bootstrap: int, seed: int,
                         confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """CI of one model's adjusted win rate ((wins + ties / 2) / matches) over its matches, resampling
    questions and judges. ``sign``: +1 where the model is model_1 of the match, -1 where model_2;
    ``question``: each match's question index (0..Q-1)."""
    if n_bootstrap <= 0 or votes.shape[0] == 0:
        return math.nan, math.nan
    n_questions = int(question.max()) + 1
    wq = bootstrap_weights(n_questions, n_bootstrap, seed)
    wj = judge_weights(votes.shape[1], n_bootstrap, seed)
    cast = (~np.isnan(votes)).astype(np.float64)
    total = cast @ wj.T  # (P, B)
    one = (votes == 1).astype(np.float64) @ wj.T
    two = (votes == -1).astype(np.float64) @ wj.T
    verdict = np.where(one * 2 > total, 1.0, np.where(two * 2 > total, -1.0, 0.0)) * sign[:, None]
    valid = total > 0
    points = np.where(valid, (verdict + 1.0) / 2.0, 0.0)  # win 1, tie 0.5, loss 0
    per_q = np.zeros((n_questions, n_bootstrap))
    count_q = np.zeros((n_questions, n_bootstrap))
    np.add.at(per_q, question, points)
    np.add.at(count_q, question, valid.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = np.einsum("qb,bq->b", per_q, wq) / np.einsum("qb,bq->b", count_q, wq)
    low, high = _quantiles(stats[:, None], confidence)
    return float(low[0]), float(high[0])


def krippendorff_alpha_ordinal(data: np.ndarray) -> float:
    """Krippendorff's alpha, ordinal metric, of (units, coders) values with NaN where a coder gave none.

    Units with fewer than two values are not pairable and are left out. NaN where there is no pairable
    unit or no disagreement to expect (every value the same). Krippendorff (2011), "Computing
    Krippendorff's alpha-reliability", section C.
    """
    data = np.asarray(data, dtype=np.float64)
    values = np.unique(data[~np.isnan(data)])
    if values.size == 0:
        return math.nan
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((values.size, values.size))
    for unit in data:
        held = unit[~np.isnan(unit)]
        m = held.size
        if m < 2:
            continue
        counts = np.zeros(values.size)
        for v in held:
            counts[index[v]] += 1
        # Every ordered pair of values from two different coders of the unit, weighted 1 / (m - 1).
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return math.nan
    cumulative = np.cumsum(n_c)
    # Ordinal distance: (sum of n_g for g from c to k) - (n_c + n_k) / 2, squared.
    lo = np.minimum.outer(np.arange(values.size), np.arange(values.size))
    hi = np.maximum.outer(np.arange(values.size), np.arange(values.size))
    between = cumulative[hi] - np.where(lo > 0, cumulative[np.maximum(lo - 1, 0)], 0.0)
    delta = (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    observed = (coincidence * delta).sum()
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return math.nan
    return float(1.0 - (n - 1) * observed / expected)


def fleiss_kappa(votes: np.ndarray) -> float:
    """Fleiss' kappa of (subjects, raters) categorical votes (NaN: no vote), categories the distinct values.

    A subject with fewer than two votes is left out; subjects with different numbers of votes are weighted
    as Fleiss' formula does per subject (equal numbers of raters give Fleiss' kappa exactly). NaN where
    no subject is left or every vote is the same category (no chance agreement to correct).
    """
    votes = np.asarray(votes, dtype=np.float64)
    categories = np.unique(votes[~np.isnan(votes)])
    counts = np.stack([(votes == c).sum(axis=1) for c in categories], axis=1) if categories.size else np.zeros((0, 0))
    raters = counts.sum(axis=1) if counts.size else np.zeros(0)
    keep = raters >= 2
    if not keep.any():
        return math.nan
    counts, raters = counts[keep], raters[keep]
    per_subject = ((counts ** 2).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = per_subject.mean()
    shares = counts.sum(axis=0) / raters.sum()
    p_e = float((shares ** 2).sum())
    if p_e >= 1.0:
        return math.nan
    return float((p_bar - p_e) / (1.0 - p_e))


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho of two judges' per-model numbers (average ranks for ties); NaN with fewer than two
    models both rated, or where a judge ranks every model the same."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = ~(np.isnan(x) | np.isnan(y))
    if both.sum() < 2:
        return math.nan
    rx, ry = _ranks(x[both]), _ranks(y[both])
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1, dtype=np.float64)
    for value in np.unique(x):  # ties share their mean rank
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def effective_judges(data: np.ndarray) -> tuple[float, int]:
    """The effective number of independent judges from (units, judges) values, and how many judges it
    was computed over.

    Only units every judge rated count; a judge whose values never vary there tells no answer from
    another and is left out (the second number says how many are left). (sum lambda)^2 / sum lambda^2 of
    the correlation matrix's eigenvalues; NaN with fewer than two units.
    """
    data = np.asarray(data, dtype=np.float64)
    full = data[~np.isnan(data).any(axis=1)]
    if full.shape[0] < 2:
        return math.nan, 0
    varying = full[:, full.std(axis=0) > 0]
    k = varying.shape[1]
    if k <= 1:
        return float(k), k
    eigen = np.linalg.eigvalsh(np.corrcoef(varying, rowvar=False))
    return float(eigen.sum() ** 2 / (eigen ** 2).sum()), k
