"""Paired comparison of two models' single scores: a bootstrap of the difference over shared questions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mtbench.core.options import ConfigError
from mtbench.core.records import SingleJudgment
from mtbench.show_result.samples import (
    DEFAULT_AGGREGATE,
    aggregate_single,
    check_aggregate,
    item_scores,
    pooled_ci,
    resampled_items,
    sample_count,
)
from mtbench.show_result.selection import dedupe_single, require_models
from mtbench.show_result.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    bootstrap_ratio_ci,
    bootstrap_weights,
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
    samples: int = 1  # above 1: the interval also resamples each item's judge samples (two-level)

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def in_words(self) -> str:
        """The comparison as one sentence: the difference, its interval, and whether it is beyond the noise."""
        noise = "this judge" + (f" ({self.samples} samples)" if self.samples > 1 else "")
        verdict = (
            f"larger than the noise of {noise} and {self.n_questions} questions" if self.significant
            else f"not distinguishable with {noise} and {self.n_questions} questions"
        )
        return (
            f"{self.model_a} - {self.model_b} = {self.difference:+.2f}, {self.confidence:.0%} CI "
            f"[{self.ci_low:+.2f}, {self.ci_high:+.2f}]: {verdict}"
        )


def paired_comparison(
    judgments: Iterable[SingleJudgment],
    model_a: str,
    model_b: str,
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    aggregate: str = DEFAULT_AGGREGATE,
) -> PairedComparison:
    """``model_a`` minus ``model_b``; with repeated judging, each match's samples aggregated first and the
    interval two-level: questions resampled, and within each (question, turn) each model's samples."""
    if model_a == model_b:  # the difference would be 0 by construction, not a finding
        raise ConfigError(f"{{compare}} {model_a} {model_b}: a model against itself; give two different models")
    sampled, _ = dedupe_single(judgments)
    samples = sample_count(sampled)
    judgments = aggregate_single(sampled, check_aggregate(aggregate))
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
        raise ConfigError(f"{{compare}}: {model_a} and {model_b} have no question with a valid score for both")
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
    weights = bootstrap_weights(len(qids), n_bootstrap, seed)
    low, high = bootstrap_ratio_ci(diff_sum, n, weights, confidence)
    if samples > 1:
        rng = np.random.default_rng(seed + 1)
        item_q = np.array([q_index[q] for q, _ in items], dtype=np.int64)
        diffs = [resampled_items(item_scores(sampled, m), items, weights.shape[0], rng, aggregate) for m in (model_a, model_b)]
        low[0], high[0] = pooled_ci(diffs[0] - diffs[1], item_q, weights, confidence)
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
        samples=samples,
    )
