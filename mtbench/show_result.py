"""Judgments -> score tables, win rates, bootstrap CIs and the radar chart: what `mtbench show` reports.

Everything here is a pure function of the records it is handed, except ``show``, which reads exactly the
two files named in its config (the judgment file and, when present, the question file). Nothing prints or
writes: the CLI does that. Later views (``browse``, ``report``) build on ``single_tables``,
``pairwise_table``, ``paired_comparison``, ``radar_figure`` and the frozen results they return.

FastChat's arithmetic (``show_result.py``) is kept: failed judgments are left out of the means, the overall
score is the mean of every valid row with both turns pooled, a pairwise match is a tie when game 1 is a tie
or the two games disagree, and ``win_rate_adjusted`` counts a tie as half a win. Deliberate differences:
a match judged twice (a rerun appended it again) counts once, the last record winning; failures are counted
and shown, not only dropped; pairwise-all's ``--model-list`` keeps a match when both models are listed
(FastChat checked only ``model_1``).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtbench.bench import CATEGORIES, DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, Mode
from mtbench.errors import UserError
from mtbench.records import (
    PairJudgment,
    SingleJudgment,
    latest_by_key,
    load_pair_judgments,
    load_questions,
    load_single_judgments,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("table", "markdown", "csv", "json")
DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
UNKNOWN_CATEGORY = "unknown"

# MT-bench's question ids come in blocks of ten per category, in CATEGORIES order starting at 81.
_MT_BENCH_FIRST_ID = 81
_MT_BENCH_PER_CATEGORY = 10


# ---------------------------------------------------------------------------------------------------
# duplicates and categories


def dedupe_single(judgments: Iterable[SingleJudgment]) -> tuple[list[SingleJudgment], int]:
    """One record per (question, model, judge, turn), the last in file order; and how many were dropped.

    FastChat's reruns append matches again and its show_result counts them twice; we count each once.
    """
    judgments = list(judgments)
    kept = latest_by_key(judgments, lambda j: j.key)
    return list(kept.values()), len(judgments) - len(kept)


def dedupe_pairs(judgments: Iterable[PairJudgment]) -> tuple[list[PairJudgment], int]:
    """One record per (question, model_1, model_2, judge, turn), the last in file order; and the drop count."""
    judgments = list(judgments)
    kept = latest_by_key(judgments, lambda j: j.key)
    return list(kept.values()), len(judgments) - len(kept)


def mt_bench_categories(question_ids: Iterable[int]) -> dict[int, str]:
    """Category of each MT-bench id from the benchmark's fixed blocks (81-90 writing ... 151-160 humanities).

    The fallback when no question file is at hand; ids outside 81-160 are left out (category unknown).
    """
    out = {}
    for qid in question_ids:
        block = (qid - _MT_BENCH_FIRST_ID) // _MT_BENCH_PER_CATEGORY
        if qid >= _MT_BENCH_FIRST_ID and block < len(CATEGORIES):
            out[qid] = CATEGORIES[block]
    return out


def _category_order(categories: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(categories))
    known = [c for c in CATEGORIES if c in present]
    rest = [c for c in present if c not in CATEGORIES and c != UNKNOWN_CATEGORY]
    tail = [UNKNOWN_CATEGORY] if UNKNOWN_CATEGORY in present else []
    return known + rest + tail


def require_models(requested: Sequence[str] | None, present: Iterable[str], where: str) -> None:
    """A model named in --model-list that has no judgments is a user error, not an empty row."""
    if not requested:
        return
    present = set(present)
    missing = [m for m in requested if m not in present]
    if missing:
        have = ", ".join(sorted(present)) or "none"
        raise UserError(f"--model-list: no judgments for {', '.join(missing)} in {where} (judged models: {have})")


# ---------------------------------------------------------------------------------------------------
# bootstrap (vectorised: one weight matrix, then matrix products)


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


# ---------------------------------------------------------------------------------------------------
# single-answer grading


@dataclass(frozen=True)
class SingleTables:
    """Single-mode results.

    ``scores``: one row per model (index ``model``), sorted by ``overall`` descending, columns
    ``first_turn``, ``second_turn``, ``overall`` (FastChat's pooled mean), ``ci_low``/``ci_high`` (bootstrap
    CI of ``overall`` over questions), ``n_valid``, ``n_failed``.
    ``by_category``: categories (rows) x models (columns, in ``scores`` order), the mean valid score of both
    turns; None when categories are unknown.
    """

    scores: pd.DataFrame
    by_category: pd.DataFrame | None
    duplicates_dropped: int
    failed: int
    n_bootstrap: int
    seed: int
    confidence: float
    failure_reasons: Mapping[str, int] = field(default_factory=dict)


def single_tables(
    judgments: Iterable[SingleJudgment],
    *,
    categories: Mapping[int, str] | None = None,
    model_list: Sequence[str] | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> SingleTables:
    """Per-model turn/overall means with CIs, and the per-category table (when ``categories`` is given).

    ``categories`` maps question_id -> category (from the question file, or ``mt_bench_categories``).
    """
    judgments = list(judgments)
    require_models(model_list, {j.model for j in judgments}, "the judgments")
    if model_list:
        wanted = set(model_list)
        judgments = [j for j in judgments if j.model in wanted]
    judgments, duplicates = dedupe_single(judgments)

    models = list(dict.fromkeys(model_list or sorted({j.model for j in judgments})))
    qids = sorted({j.question_id for j in judgments})
    m_index = {m: i for i, m in enumerate(models)}
    q_index = {q: i for i, q in enumerate(qids)}
    n_m, n_q = len(models), len(qids)

    # Per model: sums and counts of valid scores by turn, by question (bootstrap unit), by category.
    turn_sum = np.zeros((n_m, 2))
    turn_n = np.zeros((n_m, 2))
    q_sum = np.zeros((n_m, n_q))
    q_n = np.zeros((n_m, n_q))
    failed = np.zeros(n_m, dtype=np.int64)
    reasons: dict[str, int] = defaultdict(int)
    cat_sum: dict[tuple[str, int], float] = defaultdict(float)
    cat_n: dict[tuple[str, int], int] = defaultdict(int)
    for j in judgments:
        m = m_index[j.model]
        if j.score is None:
            failed[m] += 1
            reasons[j.error or "failed"] += 1
            continue
        if j.turn <= 2:
            turn_sum[m, j.turn - 1] += j.score
            turn_n[m, j.turn - 1] += 1
        q = q_index[j.question_id]
        q_sum[m, q] += j.score
        q_n[m, q] += 1
        if categories is not None:
            key = (categories.get(j.question_id, UNKNOWN_CATEGORY), m)
            cat_sum[key] += j.score
            cat_n[key] += 1

    with np.errstate(invalid="ignore", divide="ignore"):
        turn_mean = turn_sum / turn_n
        overall = q_sum.sum(axis=1) / q_n.sum(axis=1)
    ci_low, ci_high = bootstrap_ratio_ci(q_sum, q_n, bootstrap_weights(n_q, n_bootstrap, seed), confidence)
    scores = pd.DataFrame(
        {
            "first_turn": turn_mean[:, 0],
            "second_turn": turn_mean[:, 1],
            "overall": overall,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "n_valid": q_n.sum(axis=1).astype(np.int64),
            "n_failed": failed,
        },
        index=pd.Index(models, name="model"),
    )
    scores = scores.sort_values("overall", ascending=False, na_position="last", kind="stable")

    by_category = None
    if categories is not None:
        cats = _category_order([categories.get(q, UNKNOWN_CATEGORY) for q in qids])
        order = list(scores.index)
        table = np.full((len(cats), len(order)), np.nan)
        for ci, cat in enumerate(cats):
            for mi, model in enumerate(order):
                n = cat_n.get((cat, m_index[model]), 0)
                if n:
                    table[ci, mi] = cat_sum[(cat, m_index[model])] / n
        by_category = pd.DataFrame(table, index=pd.Index(cats, name="category"), columns=pd.Index(order, name="model"))

    return SingleTables(
        scores=scores,
        by_category=by_category,
        duplicates_dropped=duplicates,
        failed=int(failed.sum()),
        n_bootstrap=max(n_bootstrap, 0),
        seed=seed,
        confidence=confidence,
        failure_reasons=dict(reasons),
    )


@dataclass(frozen=True)
class PairedComparison:
    """Paired bootstrap of ``model_a`` minus ``model_b`` over the (question, turn) items both have a valid score.

    Whole questions are resampled (both turns together), so the interval reflects question-to-question
    variation, the thing that decides whether a 0.1 gain would survive a different question set.
    """

    model_a: str
    model_b: str
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    n_questions: int
    n_items: int
    n_bootstrap: int
    seed: int
    confidence: float

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)


def paired_comparison(
    judgments: Iterable[SingleJudgment],
    model_a: str,
    model_b: str,
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedComparison:
    judgments, _ = dedupe_single(judgments)
    require_models([model_a, model_b], {j.model for j in judgments}, "the judgments")
    # (question, turn) -> [sum, count] per model; more than one judge on an item is averaged.
    cells: dict[str, dict[tuple[int, int], list[float]]] = {model_a: {}, model_b: {}}
    for j in judgments:
        if j.score is not None and j.model in cells:
            cell = cells[j.model].setdefault((j.question_id, j.turn), [0.0, 0])
            cell[0] += j.score
            cell[1] += 1
    a, b = cells[model_a], cells[model_b]
    items = sorted(set(a) & set(b))
    if not items:
        raise UserError(f"--compare: {model_a} and {model_b} have no question with a valid score for both")
    qids = sorted({q for q, _ in items})
    q_index = {q: i for i, q in enumerate(qids)}
    diff_sum = np.zeros(len(qids))
    n = np.zeros(len(qids))
    a_total = b_total = 0.0
    for item in items:
        sa, sb = a[item][0] / a[item][1], b[item][0] / b[item][1]
        a_total += sa
        b_total += sb
        diff_sum[q_index[item[0]]] += sa - sb
        n[q_index[item[0]]] += 1
    low, high = bootstrap_ratio_ci(diff_sum, n, bootstrap_weights(len(qids), n_bootstrap, seed), confidence)
    return PairedComparison(
        model_a=model_a,
        model_b=model_b,
        mean_a=a_total / len(items),
        mean_b=b_total / len(items),
        difference=float(diff_sum.sum() / n.sum()),
        ci_low=float(low[0]),
        ci_high=float(high[0]),
        n_questions=len(qids),
        n_items=len(items),
        n_bootstrap=max(n_bootstrap, 0),
        seed=seed,
        confidence=confidence,
    )


# ---------------------------------------------------------------------------------------------------
# pairwise


def match_outcome(g1_winner: str, g2_winner: str) -> str:
    """FastChat's combined verdict of the two position-swapped games: ``model_1``, ``model_2`` or ``tie``.

    A tie in game 1, or games that disagree, count as a tie. Callers drop matches with an ``error`` game.
    """
    if g1_winner == "tie" or g1_winner != g2_winner:
        return "tie"
    return g1_winner


@dataclass(frozen=True)
class PairwiseTable:
    """Pairwise results.

    ``table``: one row per model (index ``model``), sorted by ``win_rate_adjusted`` descending, columns
    ``win``, ``loss``, ``tie``, ``n_error`` (matches with an error game, excluded), ``win_rate``,
    ``loss_rate``, ``win_rate_adjusted``, bootstrap CIs ``win_rate_ci_low/high`` and
    ``adjusted_ci_low/high`` over questions, and ``consistency`` (share of the model's matches whose two
    games agree).
    ``consistency``: the same share over all counted matches: a low value means the judge's verdict
    follows the answers' positions more than their content.
    """

    table: pd.DataFrame
    baseline: str | None
    duplicates_dropped: int
    errors: int
    matches: int
    consistency: float
    n_bootstrap: int
    seed: int
    confidence: float


def pairwise_table(
    judgments: Iterable[PairJudgment],
    *,
    baseline: str | None = None,
    model_list: Sequence[str] | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairwiseTable:
    """Win/loss/tie per model, FastChat's way.

    With ``baseline`` (pairwise-baseline) only matches against the baseline count, the baseline's own row is
    removed, and ``model_list`` filters the other model. Without (pairwise-all) a match counts when both of
    its models are in ``model_list``.
    """
    judgments, duplicates = dedupe_pairs(judgments)
    if baseline is not None and model_list:
        model_list = [m for m in model_list if m != baseline]  # listing the baseline itself is harmless
    if baseline is not None:
        judgments = [j for j in judgments if baseline in (j.model_1, j.model_2)]
        if not judgments:
            raise UserError(f"no pairwise matches against the baseline {baseline!r} (set --baseline-model)")
    present = {m for j in judgments for m in (j.model_1, j.model_2)} - ({baseline} if baseline else set())
    require_models(model_list, present, "the judgments" + (f" against {baseline}" if baseline else ""))
    if model_list:
        wanted = set(model_list)
        if baseline is not None:
            judgments = [j for j in judgments if ({j.model_1, j.model_2} - {baseline}) <= wanted]
        else:
            judgments = [j for j in judgments if j.model_1 in wanted and j.model_2 in wanted]

    models = list(dict.fromkeys(model_list or sorted(present)))
    m_index = {m: i for i, m in enumerate(models)}
    qids = sorted({j.question_id for j in judgments})
    q_index = {q: i for i, q in enumerate(qids)}
    n_m, n_q = len(models), len(qids)

    counts = np.zeros((n_m, 3), dtype=np.int64)  # win, loss, tie
    n_error = np.zeros(n_m, dtype=np.int64)
    agree = np.zeros(n_m, dtype=np.int64)
    q_win = np.zeros((n_m, n_q))
    q_tie = np.zeros((n_m, n_q))
    q_games = np.zeros((n_m, n_q))
    errors = matches = agreeing = 0
    for j in judgments:
        sides = [(m, s) for m, s in ((j.model_1, "model_1"), (j.model_2, "model_2")) if m in m_index and m != baseline]
        if j.failed:
            errors += 1
            for m, _ in sides:
                n_error[m_index[m]] += 1
            continue
        matches += 1
        consistent = j.g1_winner == j.g2_winner
        agreeing += consistent
        outcome = match_outcome(j.g1_winner, j.g2_winner)
        q = q_index[j.question_id]
        for m, side in sides:
            i = m_index[m]
            col = 2 if outcome == "tie" else (0 if outcome == side else 1)
            counts[i, col] += 1
            agree[i] += consistent
            q_games[i, q] += 1
            if col == 0:
                q_win[i, q] += 1
            elif col == 2:
                q_tie[i, q] += 1

    games = counts.sum(axis=1)
    weights = bootstrap_weights(n_q, n_bootstrap, seed)
    wr_low, wr_high = bootstrap_ratio_ci(q_win, q_games, weights, confidence)
    adj_low, adj_high = bootstrap_ratio_ci(q_win + 0.5 * q_tie, q_games, weights, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "win": counts[:, 0],
                "loss": counts[:, 1],
                "tie": counts[:, 2],
                "n_error": n_error,
                "win_rate": counts[:, 0] / games,
                "loss_rate": counts[:, 1] / games,
                "win_rate_adjusted": (counts[:, 0] + 0.5 * counts[:, 2]) / games,
                "win_rate_ci_low": wr_low,
                "win_rate_ci_high": wr_high,
                "adjusted_ci_low": adj_low,
                "adjusted_ci_high": adj_high,
                "consistency": agree / games,
            },
            index=pd.Index(models, name="model"),
        )
    table = table.sort_values("win_rate_adjusted", ascending=False, na_position="last", kind="stable")
    return PairwiseTable(
        table=table,
        baseline=baseline,
        duplicates_dropped=duplicates,
        errors=errors,
        matches=matches,
        consistency=agreeing / matches if matches else math.nan,
        n_bootstrap=max(n_bootstrap, 0),
        seed=seed,
        confidence=confidence,
    )


# ---------------------------------------------------------------------------------------------------
# radar chart


def radar_figure(category_table: pd.DataFrame, title: str = "MT-bench score by category") -> Figure:
    """One polygon per model (columns) over the categories (rows), on MT-bench's 0-10 scale.

    Uses matplotlib's object API with the Agg canvas (no pyplot, no display needed). Each model's line
    carries the model as its label; its data are the table's column, closed back to the first category.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cats = [str(c) for c in category_table.index]
    if not cats or category_table.shape[1] == 0:
        raise UserError("no per-category scores to plot")
    angles = np.linspace(0.0, 2.0 * np.pi, len(cats), endpoint=False)
    closed = np.append(angles, angles[0])
    fig = Figure(figsize=(8, 8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    for model in category_table.columns:
        values = category_table[model].to_numpy(dtype=np.float64)
        (line,) = ax.plot(closed, np.append(values, values[0]), linewidth=1.5, label=str(model))
        ax.fill(closed, np.append(values, values[0]), alpha=0.08, color=line.get_color())
    ax.set_xticks(angles)
    ax.set_xticklabels(cats)
    ax.set_ylim(0, 10)
    ax.set_yticks([2, 4, 6, 8, 10])
    ax.set_title(title, pad=20)
    ax.tick_params(axis="x", pad=8)
    n = category_table.shape[1]
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(3, n), fontsize="small", frameon=False,
    )
    return fig


# ---------------------------------------------------------------------------------------------------
# the `show` command's library function


@dataclass(frozen=True)
class ShowConfig:
    judgment_file: Path
    mode: str = "single"
    question_file: Path | None = None  # read when it exists, for categories
    judge_model: str = DEFAULT_JUDGE_MODEL
    baseline_model: str | None = DEFAULT_BASELINE_MODEL
    model_list: tuple[str, ...] | None = None
    compare: tuple[str, str] | None = None
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = DEFAULT_SEED
    confidence: float = DEFAULT_CONFIDENCE
    mt_bench_fallback: bool = True  # without a question file, use MT-bench's fixed id blocks for categories


@dataclass(frozen=True)
class ShowReport:
    config: ShowConfig
    single: SingleTables | None = None
    pairwise: PairwiseTable | None = None
    comparison: PairedComparison | None = None
    category_source: str | None = None  # where categories came from, or None when unavailable
    notes: tuple[str, ...] = ()


def _judge_command(mode: str, judge_model: str) -> str:
    return f"mtbench judge --mode {mode} --judge-model {judge_model}"


def show(config: ShowConfig) -> ShowReport:
    """Read the judgment file (and question file) named in ``config`` and compute the mode's tables."""
    Mode.parse(config.mode)
    path = config.judgment_file
    if not path.is_file():
        raise UserError(
            f"no judgment file at {path}; create it with `{_judge_command(config.mode, config.judge_model)}` "
            "(or name one with --input-file)"
        )
    if config.compare is not None and config.mode != "single":
        raise UserError("--compare works with --mode single (a paired test of two models' scores)")
    notes: list[str] = []

    if config.mode == "single":
        judgments = _load(load_single_judgments, path)
        require_models(config.model_list, {j.model for j in judgments}, str(path))
        if config.compare:
            require_models(list(config.compare), {j.model for j in judgments}, f"{path} (--compare)")
        categories, source = _categories(config, {j.question_id for j in judgments}, notes)
        single = single_tables(
            judgments, categories=categories, model_list=config.model_list,
            n_bootstrap=config.n_bootstrap, seed=config.seed, confidence=config.confidence,
        )
        comparison = None
        if config.compare:
            comparison = paired_comparison(
                judgments, *config.compare, n_bootstrap=config.n_bootstrap, seed=config.seed,
                confidence=config.confidence,
            )
        if single.duplicates_dropped:
            notes.append(
                f"{single.duplicates_dropped} duplicate judgment(s) dropped: the same (question, model, judge, turn) "
                "appeared again (a rerun appended it); the last one counts"
            )
        if single.failed:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(single.failure_reasons.items()))
            notes.append(f"{single.failed} failed judgment(s) left out of the means ({why}); see n_failed")
        return ShowReport(config, single=single, comparison=comparison, category_source=source, notes=tuple(notes))

    judgments = _load(load_pair_judgments, path)
    baseline = config.baseline_model if config.mode == "pairwise-baseline" else None
    if config.mode == "pairwise-baseline" and not baseline:
        raise UserError("--mode pairwise-baseline needs --baseline-model")
    if baseline is not None and not any(baseline in (j.model_1, j.model_2) for j in judgments):
        raise UserError(
            f"no matches against the baseline {baseline!r} in {path}; pick one with --baseline-model "
            f"or create them with `{_judge_command('pairwise-baseline', config.judge_model)}`"
        )
    present = {m for j in judgments for m in (j.model_1, j.model_2)} - ({baseline} if baseline else set())
    where = f"{path}" + (f" against {baseline}" if baseline else "")
    listed = [m for m in config.model_list or () if m != baseline]
    require_models(listed, present, where)
    pair = pairwise_table(
        judgments, baseline=baseline, model_list=config.model_list,
        n_bootstrap=config.n_bootstrap, seed=config.seed, confidence=config.confidence,
    )
    if pair.duplicates_dropped:
        notes.append(
            f"{pair.duplicates_dropped} duplicate match(es) dropped: the same (question, model pair, judge, turn) "
            "appeared again (a rerun appended it); the last one counts"
        )
    if pair.errors:
        notes.append(f"{pair.errors} match(es) with an error game left out of the counts; see n_error")
    return ShowReport(config, pairwise=pair, notes=tuple(notes))


def _load(loader, path: Path) -> list:
    records = loader(path)
    if not records:
        raise UserError(f"{path}: no judgments in the file (it is empty)")
    return records


def _categories(config: ShowConfig, qids: set[int], notes: list[str]) -> tuple[dict[int, str] | None, str | None]:
    qf = config.question_file
    if qf is not None and qf.is_file():
        by_id = {q.question_id: q.category for q in load_questions(qf)}
        unknown = len(qids - set(by_id))
        if unknown:
            notes.append(f"{unknown} judged question id(s) are not in {qf}; shown as category '{UNKNOWN_CATEGORY}'")
        return by_id, str(qf)
    missing = "no question file" + (f" at {qf}" if qf is not None else "")
    by_block = mt_bench_categories(qids)
    if config.mt_bench_fallback and qids and len(by_block) == len(qids):
        notes.append(f"{missing}; categories from MT-bench's fixed question-id blocks (81-160)")
        return by_block, "MT-bench question-id blocks"
    notes.append(f"{missing}; per-category scores unavailable")
    return None, None


# ---------------------------------------------------------------------------------------------------
# rendering (strings; the CLI prints them)


def render(report: ShowReport, fmt: str = "table") -> str:
    """The report as a terminal table, Markdown, CSV (one row per model) or JSON."""
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "json":
        return json.dumps(_to_jsonable(report), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return flat_table(report).to_csv(float_format="%.6g")
    return _render_text(report, markdown=fmt == "markdown")


def flat_table(report: ShowReport) -> pd.DataFrame:
    """One row per model: the main table, plus (single mode) one column per category."""
    if report.single is not None:
        flat = report.single.scores
        if report.single.by_category is not None:
            flat = flat.join(report.single.by_category.T)
        return flat
    assert report.pairwise is not None
    return report.pairwise.table


def _num(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    return x


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # to_dict keeps each column's own type (iterrows would turn the counts into floats).
    return [{k: _num(v) for k, v in row.items()} for row in df.reset_index().to_dict(orient="records")]


def _to_jsonable(report: ShowReport) -> dict[str, Any]:
    c = report.config
    out: dict[str, Any] = {
        "mode": c.mode,
        "judgment_file": os.fspath(c.judgment_file),
        "bootstrap": {"n": c.n_bootstrap, "seed": c.seed, "confidence": c.confidence},
    }
    if report.single is not None:
        s = report.single
        out["models"] = _records(s.scores)
        out["by_category"] = None if s.by_category is None else {
            cat: {m: _num(v) for m, v in row.items()} for cat, row in s.by_category.iterrows()
        }
        out["category_source"] = report.category_source
        out["duplicates_dropped"] = s.duplicates_dropped
        out["failed"] = s.failed
        out["failure_reasons"] = dict(s.failure_reasons)
    if report.pairwise is not None:
        p = report.pairwise
        out["baseline"] = p.baseline
        out["models"] = _records(p.table)
        out["matches"] = p.matches
        out["errors"] = p.errors
        out["consistency"] = _num(p.consistency)
        out["duplicates_dropped"] = p.duplicates_dropped
    if report.comparison is not None:
        cmp = report.comparison
        out["comparison"] = {
            "model_a": cmp.model_a, "model_b": cmp.model_b, "mean_a": _num(cmp.mean_a), "mean_b": _num(cmp.mean_b),
            "difference": _num(cmp.difference), "ci_low": _num(cmp.ci_low), "ci_high": _num(cmp.ci_high),
            "n_questions": cmp.n_questions, "n_items": cmp.n_items, "significant": cmp.significant,
        }
    out["notes"] = list(report.notes)
    return out


def _fmt(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, (float, np.floating)) and math.isnan(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}f}"


def _ci(low: float, high: float, digits: int) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _grid(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _render_text(report: ShowReport, markdown: bool) -> str:
    c = report.config
    pct = f"{c.confidence:.0%}"
    parts: list[str] = []

    def heading(text: str) -> None:
        parts.append(f"## {text}" if markdown else text)

    if report.single is not None:
        s = report.single
        heading(f"Single-answer grading (judge {c.judge_model}; {c.judgment_file})")
        rows = [
            [str(m), _fmt(r.first_turn, 2), _fmt(r.second_turn, 2), _fmt(r.overall, 2),
             _ci(r.ci_low, r.ci_high, 2), _fmt(r.n_valid, 0), _fmt(r.n_failed, 0)]
            for m, r in s.scores.iterrows()
        ]
        parts.append(_grid(["model", "turn 1", "turn 2", "score", f"{pct} CI", "valid", "failed"], rows, markdown))
        if s.by_category is not None:
            parts.append("")
            heading(f"Score by category (both turns; categories from {report.category_source})")
            cats = [str(x) for x in s.by_category.index]
            t = s.by_category.T
            rows = [[str(m)] + [_fmt(v, 2) for v in t.loc[m]] for m in t.index]
            parts.append(_grid(["model", *cats], rows, markdown))
    if report.pairwise is not None:
        p = report.pairwise
        what = f"against {p.baseline}" if p.baseline else "all pairs"
        heading(f"Pairwise ({what}; judge {c.judge_model}; {c.judgment_file})")
        rows = [
            [str(m), _fmt(r.win, 0), _fmt(r.loss, 0), _fmt(r.tie, 0), _fmt(r.n_error, 0),
             _fmt(r.win_rate, 3), _ci(r.win_rate_ci_low, r.win_rate_ci_high, 3), _fmt(r.loss_rate, 3),
             _fmt(r.win_rate_adjusted, 3), _ci(r.adjusted_ci_low, r.adjusted_ci_high, 3), _fmt(r.consistency, 3)]
            for m, r in p.table.iterrows()
        ]
        header = ["model", "win", "loss", "tie", "error", "win_rate", f"{pct} CI", "loss_rate",
                  "win_rate_adjusted", f"{pct} CI", "consistent"]
        parts.append(_grid(header, rows, markdown))
        parts.append("")
        parts.append(
            f"Position consistency: {_fmt(p.consistency, 3)} of {p.matches} matches had both games agree "
            "(disagreements count as ties)."
        )
    if report.comparison is not None:
        cmp = report.comparison
        parts.append("")
        heading(f"Paired comparison: {cmp.model_a} - {cmp.model_b}")
        verdict = "the interval excludes 0" if cmp.significant else "the interval includes 0: not a clear difference"
        parts.append(
            f"{cmp.model_a} {cmp.mean_a:.2f} vs {cmp.model_b} {cmp.mean_b:.2f} on {cmp.n_items} (question, turn) items "
            f"of {cmp.n_questions} questions both have: difference {cmp.difference:+.2f}, {pct} CI "
            f"{_ci(cmp.ci_low, cmp.ci_high, 2)} ({verdict})."
        )
    n_boot = report.single.n_bootstrap if report.single is not None else report.pairwise.n_bootstrap  # type: ignore[union-attr]
    notes = list(report.notes)
    if n_boot:
        notes.append(f"CIs: {pct} percentile bootstrap over questions, {n_boot} resamples, seed {c.seed}")
    if notes:
        parts.append("")
        parts.extend(f"- {n}" if markdown else f"note: {n}" for n in notes)
    return "\n".join(parts) + "\n"
