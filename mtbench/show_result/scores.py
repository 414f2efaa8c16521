"""Single-answer grading: per-model turn and overall means with bootstrap CIs, and the per-category table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mtbench.core.records import SingleJudgment
from mtbench.show_result.forced import FORCED_COLUMN, forced_per_model
from mtbench.show_result.samples import (
    DEFAULT_AGGREGATE,
    aggregate_single,
    check_aggregate,
    item_scores,
    noise_spread,
    pooled_ci,
    resampled_items,
    sample_count,
)
from mtbench.show_result.selection import (
    UNKNOWN_CATEGORY,
    category_order,
    dedupe_single,
    partial_rows,
    require_models,
)
from mtbench.show_result.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    bootstrap_ratio_ci,
    bootstrap_weights,
)


@dataclass(frozen=True)
class SingleTables:
    """Single-mode results.

    ``scores``: one row per model (index ``model``), sorted by ``overall`` descending, columns
    ``first_turn``, ``second_turn``, ``overall`` (FastChat's pooled mean), ``ci_low``/``ci_high`` (bootstrap
    CI of ``overall`` over questions), ``n_valid``, ``n_failed``, ``n_questions`` (questions with a valid
    score) and ``partial`` (fewer questions than the most-covered model or the bench: see ``partial_rows``).
    ``by_category``: categories (rows) x models (columns, in ``scores`` order), the mean valid score of both
    turns; None when categories are unknown. Where any verdict was forced (``--force-verdict``), ``n_forced``
    counts each model's valid judgments (samples each) whose score was forced. A file with repeated judging (``sample`` above 0) adds
    ``samples``, ``noise_sd``/``noise_min``/``noise_max`` (the spread of the model's per-sample means) and
    ``ci2_low``/``ci2_high`` (a bootstrap over questions and, within each, samples).
    """

    scores: pd.DataFrame
    by_category: pd.DataFrame | None
    duplicates_dropped: int
    failed: int
    n_bootstrap: int
    seed: int
    confidence: float
    failure_reasons: Mapping[str, int] = field(default_factory=dict)
    samples: int = 1  # the most samples a match has
    failed_samples: int = 0  # failed samples of matches that other samples still scored (not in n_failed)
    aggregate: str = DEFAULT_AGGREGATE


def single_tables(
    judgments: Iterable[SingleJudgment],
    *,
    categories: Mapping[int, str] | None = None,
    model_list: Sequence[str] | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    bench_questions: int | None = None,
    aggregate: str = DEFAULT_AGGREGATE,
) -> SingleTables:
    """Per-model turn/overall means with CIs, and the per-category table (when ``categories`` is given).

    ``categories`` maps question_id -> category (from the question file, or ``mt_bench_categories``);
    ``bench_questions`` is how many questions the bench has, when known (rows covering fewer are partial).
    A match judged several times (``sample``) counts once, its samples' ``aggregate`` (median or mean);
    then the table gains the judge-noise columns (see ``SingleTables``).
    """
    judgments = list(judgments)
    require_models(model_list, {j.model for j in judgments}, "the judgments")
    if model_list:
        wanted = set(model_list)
        judgments = [j for j in judgments if j.model in wanted]
    judgments, duplicates = dedupe_single(judgments)
    samples = sample_count(judgments)
    sampled, judgments = judgments, aggregate_single(judgments, check_aggregate(aggregate))

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
    weights = bootstrap_weights(n_q, n_bootstrap, seed)
    ci_low, ci_high = bootstrap_ratio_ci(q_sum, q_n, weights, confidence)
    n_questions = (q_n > 0).sum(axis=1).astype(np.int64)
    scores = pd.DataFrame(
        {
            "first_turn": turn_mean[:, 0],
            "second_turn": turn_mean[:, 1],
            "overall": overall,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "n_valid": q_n.sum(axis=1).astype(np.int64),
            "n_failed": failed,
            "n_questions": n_questions,
            "partial": partial_rows(n_questions, bench_questions),
        },
        index=pd.Index(models, name="model"),
    )
    if (forced := forced_per_model(sampled, models)) is not None:
        scores[FORCED_COLUMN] = forced
    if samples > 1:
        scores = scores.join(_noise_columns(sampled, models, q_index, weights, seed, confidence, aggregate))
    scores = scores.sort_values("overall", ascending=False, na_position="last", kind="stable")

    by_category = None
    if categories is not None:
        cats = category_order([categories.get(q, UNKNOWN_CATEGORY) for q in qids])
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
        samples=samples,
        aggregate=aggregate,
        failed_samples=sum(j.score is None for j in sampled) - int(failed.sum()),
    )


def _noise_columns(
    sampled: Sequence[SingleJudgment], models: Sequence[str], q_index: Mapping[int, int], weights: np.ndarray,
    seed: int, confidence: float, aggregate: str,
) -> pd.DataFrame:
    """Per model: samples, the spread of the per-sample means, and the two-level (questions, samples) CI.

    The question draws are the question-only CI's own (``weights``), so the two intervals differ only by
    the judge's noise.
    """
    rows = []
    for model in models:
        spread = noise_spread(sampled, model)
        cells = item_scores(sampled, model)
        items = sorted(cells)
        values = resampled_items(cells, items, weights.shape[0], np.random.default_rng(seed + 1), aggregate)
        low, high = pooled_ci(values, np.array([q_index[q] for q, _ in items], dtype=np.int64), weights, confidence)
        rows.append({"samples": spread.samples, "noise_sd": spread.sd, "noise_min": spread.low,
                     "noise_max": spread.high, "ci2_low": low, "ci2_high": high})
    return pd.DataFrame(rows, index=pd.Index(list(models), name="model"))
