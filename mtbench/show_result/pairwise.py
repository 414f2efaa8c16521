"""Pairwise grading: win/loss/tie, win rates with bootstrap CIs, and position consistency, FastChat's way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment
from mtbench.show_result.forced import FORCED_COLUMN, forced_per_model
from mtbench.show_result.samples import majority_pairs, sample_count
from mtbench.show_result.selection import dedupe_pairs, partial_rows, require_models
from mtbench.show_result.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    bootstrap_ratio_ci,
    bootstrap_weights,
)


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
    games agree), ``n_questions`` (questions with a counted match) and ``partial`` (see ``partial_rows``).
    ``consistency``: the same share over all counted matches: a low value means the judge's verdict
    follows the answers' positions more than their content. With repeated judging a match's verdict is
    the majority of its samples' (a tie for first place is a tie), consistency counts each sample, and
    ``sample_agreement`` is how often two samples of one match agree.
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
    samples: int = 1  # the most samples a match has (``--judge-samples``)
    sample_agreement: float = math.nan  # share of a match's sample pairs that agree on its outcome


def pairwise_table(
    judgments: Iterable[PairJudgment],
    *,
    baseline: str | None = None,
    model_list: Sequence[str] | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    bench_questions: int | None = None,
) -> PairwiseTable:
    """Win/loss/tie per model, FastChat's way.

    With ``baseline`` (pairwise-baseline) only matches against the baseline count, the baseline's own row is
    removed, and ``model_list`` filters the other model. Without (pairwise-all) a match counts when both of
    its models are in ``model_list``. ``bench_questions``: how many questions the bench has, when known.
    """
    judgments, duplicates = dedupe_pairs(judgments)
    samples = sample_count(judgments)
    reduced = majority_pairs(judgments, match_outcome)
    judgments = reduced.records
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
    agree = np.zeros(n_m)
    q_win = np.zeros((n_m, n_q))
    q_tie = np.zeros((n_m, n_q))
    q_games = np.zeros((n_m, n_q))
    errors = matches = 0
    agreeing = 0.0
    for j in judgments:
        sides = [(m, s) for m, s in ((j.model_1, "model_1"), (j.model_2, "model_2")) if m in m_index and m != baseline]
        if j.failed:
            errors += 1
            for m, _ in sides:
                n_error[m_index[m]] += 1
            continue
        matches += 1
        consistent = reduced.consistency[j.key[:5]]  # over the match's samples: 0 or 1 with one sample
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
    n_questions = (q_games > 0).sum(axis=1).astype(np.int64)
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
                "n_questions": n_questions,
                "partial": partial_rows(n_questions, bench_questions),
            },
            index=pd.Index(models, name="model"),
        )
    if (forced := forced_per_model(judgments, models)) is not None:
        table[FORCED_COLUMN] = forced  # matches with a forced game
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
        samples=samples,
        sample_agreement=reduced.agreement,
    )
