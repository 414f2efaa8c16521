"""A jury's tables from its judges' judgments (pure): the jury's score beside each judge's, and agreement.

Each judge's records are reduced as ``show`` reduces one judge's (duplicates dropped, several samples of a
match aggregated), then lined up by match: (question, model, turn) in single mode, (question, model_1,
model_2, turn) in pairwise. The arithmetic is ``jury_stats``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.show_result import jury_stats
from mtbench.show_result.pairwise import match_outcome
from mtbench.show_result.samples import DEFAULT_AGGREGATE, aggregate_single, majority_pairs
from mtbench.show_result.selection import dedupe_pairs, dedupe_single, partial_rows
from mtbench.show_result.stats import DEFAULT_BOOTSTRAP, DEFAULT_CONFIDENCE, DEFAULT_SEED

JUDGE_PREFIX = "judge:"  # a judge's own column: "judge:NAME"
_VOTE = {"model_1": 1.0, "model_2": -1.0, "tie": 0.0}


@dataclass(frozen=True)
class JuryAgreement:
    """How much the judges agree: alpha (scores) or kappa (verdicts) over the matches, Spearman's rho
    between each two judges' model rankings, and the effective number of independent judges."""

    statistic: str  # "krippendorff_alpha_ordinal" or "fleiss_kappa"
    value: float
    spearman: Mapping[tuple[str, str], float]
    effective_judges: float
    varying_judges: int  # the judges n_eff is over (one whose values never vary is left out)
    units: int  # matches with at least two judges' values (what alpha or kappa is over)


@dataclass(frozen=True)
class JuryTables:
    """``table``: one row per model (index ``model``), sorted by the jury's number: ``score`` (single) or
    ``win_rate_adjusted`` (pairwise) with ``ci_low``/``ci_high`` over questions and judges, one
    ``judge:NAME`` column per judge (its own number), ``n_questions``, ``partial`` and ``judge_failed``
    (a judge's failed or missing judgments of the model's matches, left out of those matches' means or
    votes); pairwise also ``win``, ``loss``, ``tie`` by the jury's verdicts."""

    judges: tuple[str, ...]
    pairwise: bool
    table: pd.DataFrame
    agreement: JuryAgreement
    judge_failed: Mapping[str, int]  # per judge, matches the others judged and it did not
    matches: int
    n_bootstrap: int
    seed: int
    confidence: float


def _single_rows(records: Sequence[SingleJudgment], aggregate: str) -> dict[tuple, float]:
    deduped, _ = dedupe_single(records)
    return {(j.question_id, j.model, j.turn): (math.nan if j.score is None else float(j.score))
            for j in aggregate_single(deduped, aggregate)}


def _pair_rows(records: Sequence[PairJudgment]) -> dict[tuple, float]:
    deduped, _ = dedupe_pairs(records)
    return {(j.question_id, j.model_1, j.model_2, j.turn):
            (math.nan if j.failed else _VOTE[match_outcome(j.g1_winner, j.g2_winner)])
            for j in majority_pairs(deduped, match_outcome).records}


def _check(by_judge: Mapping[str, Sequence[object]]) -> None:
    if len(by_judge) < 2:
        raise UserError(f"a jury needs at least two judges, got {len(by_judge)}")
    empty = [name for name, records in by_judge.items() if not records]
    if empty:
        raise UserError(f"no judgments from {', '.join(empty)}: judge with them first, or leave them out")


def _failed_counts(values: np.ndarray, judges: Sequence[str]) -> dict[str, int]:
    """Per judge, the matches another judge has a value for and it has none."""
    someone = (~np.isnan(values)).any(axis=-1)
    return {name: int((np.isnan(values[..., j]) & someone).sum()) for j, name in enumerate(judges)}


def _agreement(statistic: str, value: float, per_judge: pd.DataFrame, units: np.ndarray) -> JuryAgreement:
    rho = {(a, b): jury_stats.spearman(per_judge[a].to_numpy(), per_judge[b].to_numpy())
           for a, b in combinations(per_judge.columns, 2)}
    n_eff, varying = jury_stats.effective_judges(units)
    pairable = int(((~np.isnan(units)).sum(axis=1) >= 2).sum())
    return JuryAgreement(statistic, value, rho, n_eff, varying, pairable)


def single_jury(by_judge: Mapping[str, Sequence[SingleJudgment]], *, model_list: Sequence[str] | None = None,
                n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED,
                confidence: float = DEFAULT_CONFIDENCE, aggregate: str = DEFAULT_AGGREGATE,
                bench_questions: int | None = None) -> JuryTables:
    """The jury's single-mode table: per match the mean of its judges' scores, per model their mean."""
    _check(by_judge)
    judges = tuple(by_judge)
    rows = [_single_rows(by_judge[name], aggregate) for name in judges]
    keys = sorted({k for r in rows for k in r if not model_list or k[1] in model_list})
    models = list(dict.fromkeys(model_list or sorted({k[1] for k in keys})))
    qids = sorted({k[0] for k in keys})
    turns = sorted({k[2] for k in keys})
    mi, qi, ti = ({v: i for i, v in enumerate(xs)} for xs in (models, qids, turns))
    scores = np.full((len(models), len(qids), len(turns), len(judges)), np.nan)
    for j, r in enumerate(rows):
        for key, score in r.items():
            if key[1] in mi:
                scores[mi[key[1]], qi[key[0]], ti[key[2]], j] = score
    low, high = jury_stats.jury_score_ci(scores, n_bootstrap, seed, confidence)
    jury_means = jury_stats.match_means(scores)
    n_questions = (~np.isnan(jury_means)).any(axis=2).sum(axis=1).astype(np.int64)
    per_judge = pd.DataFrame({name: jury_stats.model_means(scores[..., j:j + 1]) for j, name in enumerate(judges)},
                             index=pd.Index(models, name="model"))
    someone = (~np.isnan(scores)).any(axis=-1, keepdims=True)
    table = pd.DataFrame({"score": jury_stats.model_means(scores), "ci_low": low, "ci_high": high},
                         index=per_judge.index)
    table = table.join(per_judge.add_prefix(JUDGE_PREFIX))
    table["n_questions"] = n_questions
    table["partial"] = partial_rows(n_questions, bench_questions)
    table["judge_failed"] = (np.isnan(scores) & someone).sum(axis=(1, 2, 3)).astype(np.int64)
    units = scores.reshape(-1, len(judges))
    units = units[(~np.isnan(units)).any(axis=1)]
    agreement = _agreement("krippendorff_alpha_ordinal", jury_stats.krippendorff_alpha_ordinal(units),
                           per_judge, units)
    return JuryTables(judges, False, table.sort_values("score", ascending=False, na_position="last", kind="stable"),
                      agreement, _failed_counts(scores, judges), len(units), max(n_bootstrap, 0), seed, confidence)


def pairwise_jury(by_judge: Mapping[str, Sequence[PairJudgment]], *, baseline: str | None = None,
                  model_list: Sequence[str] | None = None, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                  seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE,
                  bench_questions: int | None = None) -> JuryTables:
    """The jury's pairwise table: per match the strict majority of its judges' verdicts (a split is a tie),
    per model its wins, losses, ties and adjusted win rate (a tie half a win), FastChat's way."""
    _check(by_judge)
    judges = tuple(by_judge)
    rows = [_pair_rows(by_judge[name]) for name in judges]
    wanted = set(model_list or ())

    def kept(key: tuple) -> bool:
        if baseline is not None and baseline not in key[1:3]:
            return False
        return not wanted or ({key[1], key[2]} - {baseline}) <= wanted

    keys = sorted({k for r in rows for k in r if kept(k)})
    if not keys:
        raise UserError("no pairwise matches to show" + (f" against the baseline {baseline!r}" if baseline else ""))
    votes = np.array([[r.get(k, math.nan) for r in rows] for k in keys])
    verdicts = jury_stats.majority(votes)
    present = sorted({m for k in keys for m in k[1:3]} - ({baseline} if baseline else set()))
    models = list(dict.fromkeys(model_list or present))
    qids = sorted({k[0] for k in keys})
    qi = {q: i for i, q in enumerate(qids)}
    columns: dict[str, list[float]] = {c: [] for c in ("win", "loss", "tie", "win_rate_adjusted", "ci_low", "ci_high",
                                                      "n_questions", "judge_failed")}
    own: dict[str, list[float]] = {name: [] for name in judges}
    for model in models:
        mine = np.array([i for i, k in enumerate(keys) if model in k[1:3]], dtype=np.int64)
        sign = np.array([1.0 if keys[i][1] == model else -1.0 for i in mine])
        v = votes[mine] if mine.size else np.zeros((0, len(judges)))
        outcome = verdicts[mine] * sign if mine.size else np.zeros(0)
        valid = ~np.isnan(outcome)
        columns["win"].append(float((outcome == 1).sum()))
        columns["loss"].append(float((outcome == -1).sum()))
        columns["tie"].append(float((outcome == 0).sum()))
        n = valid.sum()
        columns["win_rate_adjusted"].append(float(((outcome[valid] + 1) / 2).sum() / n) if n else math.nan)
        question = np.array([qi[keys[i][0]] for i in mine], dtype=np.int64)
        low, high = jury_stats.adjusted_win_rate_ci(v, sign, question, n_bootstrap, seed, confidence)
        columns["ci_low"].append(low)
        columns["ci_high"].append(high)
        columns["n_questions"].append(float(len({keys[i][0] for i, ok in zip(mine, valid, strict=True) if ok})))
        columns["judge_failed"].append(float((np.isnan(v) & ~np.isnan(v).all(axis=1, keepdims=True)).sum()))
        for j, name in enumerate(judges):
            theirs = v[:, j] * sign
            counted = ~np.isnan(theirs)
            own[name].append(float(((theirs[counted] + 1) / 2).mean()) if counted.any() else math.nan)
    per_judge = pd.DataFrame(own, index=pd.Index(models, name="model"))
    table = pd.DataFrame(columns, index=per_judge.index)
    for c in ("win", "loss", "tie", "n_questions", "judge_failed"):
        table[c] = table[c].astype(np.int64)
    table = table.join(per_judge.add_prefix(JUDGE_PREFIX))
    table["partial"] = partial_rows(table["n_questions"].to_numpy(), bench_questions)
    agreement = _agreement("fleiss_kappa", jury_stats.fleiss_kappa(votes), per_judge, votes)
    table = table.sort_values("win_rate_adjusted", ascending=False, na_position="last", kind="stable")
    return JuryTables(judges, True, table, agreement, _failed_counts(votes, judges), len(keys),
                      max(n_bootstrap, 0), seed, confidence)
