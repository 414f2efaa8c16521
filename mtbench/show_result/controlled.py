"""``show --control length|style``: the judgments and answer styles turned into the fits of ``control``.

The same judgments the raw table counts (deduplicated, ``--model-list`` applied, samples aggregated), each
joined with its answers' length and markdown; rows whose answers are not in the answer files are left out
and counted in a note. The result is a frame indexed by model, joined beside the raw columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mtbench.core.errors import UserError
from mtbench.core.options import check
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.show_result.control import (
    CONTROLS,
    ControlFit,
    fit_baseline,
    fit_bradley_terry,
    fit_single,
    pair_differences,
    single_features,
)
from mtbench.show_result.pairwise import match_outcome
from mtbench.show_result.samples import aggregate_single
from mtbench.show_result.selection import dedupe_pairs, dedupe_single
from mtbench.show_result.stats import bootstrap_weights
from mtbench.show_result.style import AnswerStyles


@dataclass(frozen=True)
class Controlled:
    """The controlled columns per model, and a line describing the fit (its coefficients) for the notes."""

    table: pd.DataFrame
    note: str


def check_control(control: str | None) -> None:
    check(control is None or control in CONTROLS, f"{{control}} must be one of {', '.join(CONTROLS)}; got {control!r}")


def _need_two(models: Sequence[str]) -> None:
    if len(models) < 2:
        raise UserError(
            f"--control needs at least two models (found {', '.join(models) or 'none'}): the length effect is "
            "fitted across models"
        )


def _coefs(fit: ControlFit) -> str:
    return ", ".join(f"{k} {v:+.3f}" for k, v in fit.coefficients.items())


def controlled_single(
    judgments: Sequence[SingleJudgment], styles: AnswerStyles, control: str, model_list: Sequence[str] | None,
    n_bootstrap: int, seed: int, confidence: float, aggregate: str,
) -> Controlled:
    kept, _ = dedupe_single(j for j in judgments if not model_list or j.model in model_list)
    scored = [j for j in aggregate_single(kept, aggregate) if j.score is not None]
    rows = [(j, s) for j in scored if (s := styles.get(j.model, j.question_id, j.turn)) is not None]
    models = sorted({j.model for j, _ in rows})
    _need_two(models)
    qids = sorted({j.question_id for j, _ in rows})
    q_index = {q: i for i, q in enumerate(qids)}
    m_index = {m: i for i, m in enumerate(models)}
    features, names = single_features([s for _, s in rows], control)
    fit = fit_single(
        np.array([m_index[j.model] for j, _ in rows]), np.array([q_index[j.question_id] for j, _ in rows]),
        np.array([float(j.score) for j, _ in rows]), features, names, models,  # type: ignore[arg-type]
        bootstrap_weights(len(qids), n_bootstrap, seed), confidence,
    )
    table = _frame(fit, "controlled_score")
    note = (
        f"--control {control}: score ~ a term per model + standardized {', '.join(names)} (OLS over {len(rows)} "
        f"scored answers); controlled_score = the prediction at the pooled mean; coefficients per sd: {_coefs(fit)}; "
        f"{fit.points_per_doubling:+.3f} points per doubling of length"
    )
    return Controlled(table, _dropped(note, len(scored) - len(rows)))


def controlled_pairwise(
    judgments: Sequence[PairJudgment], styles: AnswerStyles, control: str, baseline: str | None,
    model_list: Sequence[str] | None, n_bootstrap: int, seed: int, confidence: float,
) -> Controlled:
    kept, _ = dedupe_pairs(judgments)
    wanted = set(model_list or ()) - ({baseline} if baseline else set())
    matches = []
    unstyled = 0
    for j in kept:
        if j.failed or (baseline is not None and baseline not in (j.model_1, j.model_2)):
            continue
        others = {j.model_1, j.model_2} - ({baseline} if baseline else set())
        if wanted and not others <= wanted:
            continue
        if baseline is not None and j.model_1 == baseline:  # the model always on side a, the baseline on b
            a, b, outcome = j.model_2, j.model_1, {"model_2": 1.0, "model_1": 0.0}
        else:
            a, b, outcome = j.model_1, j.model_2, {"model_1": 1.0, "model_2": 0.0}
        sa, sb = styles.get(a, j.question_id, j.turn), styles.get(b, j.question_id, j.turn)
        if sa is None or sb is None:
            unstyled += 1
        else:
            matches.append((j.question_id, a, b, outcome.get(match_outcome(j.g1_winner, j.g2_winner), 0.5), sa, sb))
    sides = sorted({m for _, a, b, *_ in matches for m in (a, b)})
    _need_two(sides)
    qids = sorted({q for q, *_ in matches})
    q_index = {q: i for i, q in enumerate(qids)}
    question = np.array([q_index[q] for q, *_ in matches])
    outcome_arr = np.array([o for _, _, _, o, _, _ in matches])
    weights = bootstrap_weights(len(qids), n_bootstrap, seed)
    diffs, names = pair_differences([m[4] for m in matches], [m[5] for m in matches], control,
                                    tanh_length=baseline is not None)
    if baseline is not None:
        models = [m for m in sides if m != baseline]
        m_index = {m: i for i, m in enumerate(models)}
        fit = fit_baseline(np.array([m_index[a] for _, a, *_ in matches]), question, outcome_arr, diffs, names,
                           models, weights, confidence)
        how = (f"--control {control}: AlpacaEval-style logistic fit of each match's outcome against {baseline} "
               f"on a term per model + tanh-normalized length difference"
               + (" + scaled markdown differences" if control == "style" else "")
               + f"; controlled_win_rate = the prediction at zero difference; coefficients: {_coefs(fit)}")
    else:
        models = sides
        m_index = {m: i for i, m in enumerate(models)}
        fit = fit_bradley_terry(np.array([m_index[a] for _, a, *_ in matches]),
                                np.array([m_index[b] for _, _, b, *_ in matches]), question, outcome_arr, diffs,
                                names, models, weights, confidence)
        how = (f"--control {control}: Bradley-Terry with style covariates (arena-hard-auto): scaled "
               f"(a - b) / (a + b) of {', '.join(names)}; controlled_win_rate = mean predicted win probability "
               f"over the model's matches at zero style difference, bt_win_rate the same without covariates; "
               f"coefficients: {_coefs(fit)}")
    table = _frame(fit, "controlled_win_rate")
    if fit.uncontrolled is not None:
        table.insert(0, "bt_win_rate", fit.uncontrolled)
    return Controlled(table, _dropped(how, unstyled))


def _frame(fit: ControlFit, column: str) -> pd.DataFrame:
    return pd.DataFrame(
        {column: fit.controlled, "controlled_ci_low": fit.ci_low, "controlled_ci_high": fit.ci_high},
        index=pd.Index(list(fit.models), name="model"),
    )


def _dropped(note: str, dropped: int) -> str:
    if dropped > 0:
        return note + f"; {dropped} judgment(s) whose answers are not in the answer files left out of the fit"
    return note
