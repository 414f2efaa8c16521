"""Scores with length (or style) taken out: the regressions behind ``show --control`` (pure, scikit-learn).

Three fits, one per mode, each refitted on bootstrap resamples of the questions for its CI. A resample is a
vector of draw counts per question (``stats.bootstrap_weights``) given to the fit as sample weights, which
is the same as fitting the resampled rows and keeps every fit seeded.

- single: score ~ one term per model + one per question + standardized features (log2 length; with style
  also log1p header, list-item and bold counts). Standardized features have pooled mean 0, so a model's
  adjusted score, its prediction at the pooled mean averaged over the questions, is its own term plus the
  mean question term. The question terms keep the comparison within a question (see ``fit_single``).
- pairwise-baseline (AlpacaEval's length-controlled win rate): logistic model of each match's outcome
  against the baseline with a term per model and a shared term for tanh(length difference / its sd)
  (plus the normalized markdown differences with style); controlled win rate = sigmoid(model term), the
  prediction at zero difference.
- pairwise-all (arena-hard-auto's style control): Bradley-Terry as a logistic regression on +1/-1 model
  columns plus the scaled (not centred: see ``_scale``) normalized differences (a - b) / (a + b) of each style element; a model's
  win rate is the mean predicted win probability over the matches it played, at zero style difference
  (controlled) and from the fit without covariates (plain Bradley-Terry), side by side.

Ties count as half a win: each tie is two rows (won, lost) of weight 1/2, as arena-hard-auto does.
Logistic fits carry a whisper of L2 (C = 100 per row's loss) so a model that wins every match stays finite.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mtbench.show_result.stats import DEFAULT_CONFIDENCE

CONTROLS = ("length", "style")
_LOGISTIC_C = 100.0


@dataclass(frozen=True)
class ControlFit:
    """Per model (in ``models`` order): the controlled number, its CI, and the raw fit's number when one exists.

    ``coefficients``: the fitted feature coefficients by name (on the standardized scale for single).
    ``points_per_doubling``: single only, score points per doubling of answer length (NaN otherwise).
    """

    models: tuple[str, ...]
    controlled: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    coefficients: dict[str, float]
    points_per_doubling: float = float("nan")
    points_per_doubling_ci: tuple[float, float] = (float("nan"), float("nan"))
    uncontrolled: np.ndarray | None = None  # pairwise-all: plain Bradley-Terry win rates


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2.0
    if draws.shape[0] == 0:
        nan = np.full(draws.shape[1:], np.nan)
        return nan, nan.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(draws, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _scale(x: np.ndarray) -> np.ndarray:
    """Differences divided by their root mean square, never centred: zero must stay "no difference".

    arena-hard-auto centres them too, harmless there because its sides are in random order; here side a is
    always model_1 (or the model against the baseline), so centring would remove the very difference the
    control is meant to take out.
    """
    rms = np.sqrt((x**2).mean(axis=0)) if len(x) else np.ones(x.shape[1])
    rms[rms == 0] = 1.0
    return x / rms


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0  # a constant feature: leave it at 0, it explains nothing
    return (x - x.mean(axis=0)) / sd, sd


def single_features(styles: Sequence, control: str) -> tuple[np.ndarray, list[str]]:
    """Rows of features for single grading: log2 length, plus log1p markdown counts with ``style``."""
    cols = [[s.log2_length for s in styles]]
    names = ["log2_length"]
    if control == "style":
        for name in ("headers", "list_items", "bold"):
            cols.append([float(np.log1p(getattr(s, name))) for s in styles])
            names.append(f"log1p_{name}")
    return np.array(cols, dtype=np.float64).T, names


def fit_single(
    model_idx: np.ndarray, question_idx: np.ndarray, scores: np.ndarray, features: np.ndarray,
    feature_names: Sequence[str], models: Sequence[str], weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE,
    *, question_effects: bool = True,
) -> ControlFit:
    """OLS of score on a term per model (and per question) and the standardized features.

    ``weights`` (n_boot, n_questions): the bootstrap draw counts. With ``question_effects`` a question's
    difficulty is its own term, so length is compared only within a question (a math answer is short and a
    writing answer long for reasons that are not the judge's); a model's adjusted score is then its
    prediction averaged over the (drawn) questions, at the pooled mean of the features.
    """
    from sklearn.linear_model import LinearRegression  # here: `show` without --control never pays for sklearn

    z, sd = _standardize(features)
    n_m = len(models)
    n_q = int(question_idx.max()) + 1 if len(question_idx) else 0
    blocks = [np.eye(n_m)[model_idx], z]
    if question_effects and n_q > 1:
        blocks.append(np.eye(n_q)[question_idx][:, 1:])  # question 0 is the reference level
    x = np.hstack(blocks)
    n_f = z.shape[1]
    present = np.bincount(question_idx, minlength=n_q) > 0  # a subset's index may skip questions

    def fit(w: np.ndarray) -> np.ndarray:
        coef = LinearRegression(fit_intercept=False).fit(x, scores, sample_weight=w[question_idx]).coef_
        gamma = np.concatenate([[0.0], coef[n_m + n_f:]]) if x.shape[1] > n_m + n_f else np.zeros(1)
        level = float(np.average(gamma, weights=w[:n_q] * present)) if len(gamma) > 1 else 0.0
        return np.concatenate([coef[:n_m] + level, coef[n_m:n_m + n_f]])

    coef = fit(np.ones(max(n_q, 1)))
    draws = np.array([fit(w) for w in weights]).reshape(len(weights), n_m + n_f)
    for m in range(n_m):  # a model no resample drew has no value there
        missing = np.array([not (w[question_idx][model_idx == m] > 0).any() for w in weights], dtype=bool)
        draws[missing, m] = np.nan
    low, high = _percentiles(draws, confidence)
    doubling_low, doubling_high = _percentiles(draws[:, n_m:n_m + 1] / sd[0], confidence)
    return ControlFit(
        models=tuple(models), controlled=coef[:n_m], ci_low=low[:n_m], ci_high=high[:n_m],
        coefficients={name: float(c) for name, c in zip(feature_names, coef[n_m:], strict=True)},
        points_per_doubling=float(coef[n_m] / sd[0]),
        points_per_doubling_ci=(float(doubling_low[0]), float(doubling_high[0])),
    )


def pair_differences(styles_a: Sequence, styles_b: Sequence, control: str, *, tanh_length: bool) -> tuple[np.ndarray, list[str]]:
    """Per match, side a minus side b: normalized differences (a - b) / (a + b) of each style element.

    With ``tanh_length`` (AlpacaEval) the length term is instead tanh(character difference / its sd).
    """
    names = ["length"] + (["headers", "list_items", "bold"] if control == "style" else [])
    a = np.array([[getattr(s, n) for n in names] for s in styles_a], dtype=np.float64).reshape(-1, len(names))
    b = np.array([[getattr(s, n) for n in names] for s in styles_b], dtype=np.float64).reshape(-1, len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(a + b > 0, (a - b) / (a + b), 0.0)
    if tanh_length:
        raw = a[:, 0] - b[:, 0]
        sd = raw.std() or 1.0
        diff[:, 0] = np.tanh(raw / sd)
        if diff.shape[1] > 1:
            diff[:, 1:] = _scale(diff[:, 1:])
    else:
        diff = _scale(diff)
    return diff, names


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients of a logistic fit with no intercept; ties arrive as y = 0.5 and become two half rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    tie = y == 0.5
    xx = np.vstack([x, x[tie]])
    yy = np.concatenate([np.where(tie, 1.0, y), np.zeros(int(tie.sum()))])
    ww = np.concatenate([np.where(tie, 0.5 * w, w), 0.5 * w[tie]])
    keep = ww > 0
    if len(np.unique(yy[keep])) < 2:
        # Every kept game went one way (a tiny resample): no fit exists; the caller marks it missing.
        return np.full(x.shape[1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(fit_intercept=False, C=_LOGISTIC_C, max_iter=1000)
        return model.fit(xx[keep], yy[keep], sample_weight=ww[keep]).coef_[0]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fit_baseline(
    model_idx: np.ndarray, question_idx: np.ndarray, outcome: np.ndarray, diffs: np.ndarray,
    feature_names: Sequence[str], models: Sequence[str], weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE,
) -> ControlFit:
    """AlpacaEval-style: outcome (1 win, 0 loss, 0.5 tie vs the baseline) ~ model term + shared diff terms."""
    n_m = len(models)
    x = np.hstack([np.eye(n_m)[model_idx], diffs])
    coef = _logistic(x, outcome, np.ones(len(outcome)))
    draws = np.array([_logistic(x, outcome, w[question_idx]) for w in weights]).reshape(len(weights), x.shape[1])
    low, high = _percentiles(_sigmoid(draws[:, :n_m]), confidence)
    return ControlFit(
        models=tuple(models), controlled=_sigmoid(coef[:n_m]), ci_low=low, ci_high=high,
        coefficients={name: float(c) for name, c in zip(feature_names, coef[n_m:], strict=True)},
    )


def _bt_win_rates(theta: np.ndarray, a_idx: np.ndarray, b_idx: np.ndarray, n_m: int) -> np.ndarray:
    """Each model's mean predicted win probability over the matches it played (style difference zero)."""
    p = _sigmoid(theta[a_idx] - theta[b_idx])
    total = np.bincount(a_idx, p, n_m) + np.bincount(b_idx, 1.0 - p, n_m)
    count = np.bincount(a_idx, minlength=n_m) + np.bincount(b_idx, minlength=n_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def fit_bradley_terry(
    a_idx: np.ndarray, b_idx: np.ndarray, question_idx: np.ndarray, outcome: np.ndarray, diffs: np.ndarray,
    feature_names: Sequence[str], models: Sequence[str], weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE,
) -> ControlFit:
    """Bradley-Terry with and without style covariates; outcome is side a's (1, 0 or 0.5)."""
    n_m = len(models)
    design = np.zeros((len(outcome), n_m))
    design[np.arange(len(outcome)), a_idx] = 1.0
    design[np.arange(len(outcome)), b_idx] = -1.0
    design = design[:, 1:]  # the first model is the anchor (rating 0): ratings are only defined up to a shift
    x = np.hstack([design, diffs])

    def rates(w: np.ndarray, with_style: bool) -> np.ndarray:
        coef = _logistic(x if with_style else design, outcome, w)
        theta = np.concatenate([[0.0], coef[: n_m - 1]])
        return _bt_win_rates(theta, a_idx, b_idx, n_m)

    ones = np.ones(len(outcome))
    coef = _logistic(x, outcome, ones)
    draws = np.array([rates(w[question_idx], True) for w in weights]).reshape(len(weights), n_m)
    low, high = _percentiles(draws, confidence)
    return ControlFit(
        models=tuple(models), controlled=rates(ones, True), ci_low=low, ci_high=high,
        coefficients={name: float(c) for name, c in zip(feature_names, coef[n_m - 1:], strict=True)},
        uncontrolled=rates(ones, False),
    )
