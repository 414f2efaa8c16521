"""Bootstrap confidence intervals, vectorised: one seeded weight matrix, then matrix products (pure)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95


def bootstrap_weights(n_units: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """How often each of ``n_units`` units is drawn in each resample: a (n_bootstrap, n_units) matrix.

    Drawing counts straight from a multinomial is the same distribution as resampling with replacement,
    and it lets every statistic below be one matrix product. Seeded, so reruns print the same intervals.
    """
    if n_units == 0 or n_bootstrap <= 0:
        return np.zeros((max(n_bootstrap, 0), n_units))
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_bootstrap).astype(np.float64)


def bootstrap_ratio_ci(
    numerators: np.ndarray, denominators: np.ndarray, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI of sum(numerator)/sum(denominator) per row, resampling the columns (units).

    ``numerators`` and ``denominators`` are (rows, units): e.g. per model and question, the sum of valid
    scores and their count, so each resample's statistic is the pooled mean FastChat reports. A resample in
    which a row has no data gives no value for that row; rows with no value at all get NaN.
    """
    numerators = np.atleast_2d(np.asarray(numerators, dtype=np.float64))
    denominators = np.atleast_2d(np.asarray(denominators, dtype=np.float64))
    rows = numerators.shape[0]
    if weights.shape[0] == 0 or numerators.shape[1] == 0:
        nan = np.full(rows, np.nan)
        return nan, nan.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (weights @ numerators.T) / (weights @ denominators.T)  # (n_bootstrap, rows)
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: a model with no valid judgment
        low, high = np.nanquantile(stats, [alpha, 1.0 - alpha], axis=0)
    return low, high


def bootstrap_mean_ci(
    values: Sequence[float], n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile CI of the mean of ``values`` (each value one resampling unit)."""
    v = np.asarray(values, dtype=np.float64)[None, :]
    low, high = bootstrap_ratio_ci(v, np.ones_like(v), bootstrap_weights(v.shape[1], n_bootstrap, seed), confidence)
    return float(low[0]), float(high[0])
