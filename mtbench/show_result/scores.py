"""Single-answer grading: per-model turn and overall means with bootstrap CIs, and the per-category table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mtbench.records import SingleJudgment
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
    bench_questions: int | None = None,
) -> SingleTables:
    """Per-model turn/overall means with CIs, and the per-category table (when ``categories`` is given).

    ``categories`` maps question_id -> category (from the question file, or ``mt_bench_categories``);
    ``bench_questions`` is how many questions the bench has, when known (rows covering fewer are partial).
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
    )
