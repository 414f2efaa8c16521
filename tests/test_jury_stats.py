"""The jury's statistics against numbers computed by hand (mtbench.show_result.jury_stats, jury)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.show_result import jury_stats
from mtbench.show_result.jury import pairwise_jury, single_jury

NAN = math.nan


def test_alpha_ordinal_two_coders_by_hand():
    # Units (1,1), (1,2), (2,2): coincidences o11 = 2, o12 = o21 = 1, o22 = 2; n1 = n2 = 3, n = 6.
    # Ordinal delta^2(1,2) = (n1 + n2 - (n1 + n2) / 2)^2 = 9. alpha = 1 - (n-1) * 2*9 / (2*3*3*9) = 1 - 90/162.
    data = np.array([[1, 1], [1, 2], [2, 2]], dtype=float)
    assert jury_stats.krippendorff_alpha_ordinal(data) == pytest.approx(1 - 90 / 162)


def test_alpha_ordinal_krippendorffs_own_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", C: 4 coders, 12 units, ordinal 0.815.
    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3]
    c = [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN]
    d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN]
    assert jury_stats.krippendorff_alpha_ordinal(np.array([a, b, c, d]).T) == pytest.approx(0.815, abs=5e-4)


def test_alpha_perfect_and_undefined():
    assert jury_stats.krippendorff_alpha_ordinal(np.array([[1, 1], [5, 5], [3, 3]], float)) == 1.0
    assert math.isnan(jury_stats.krippendorff_alpha_ordinal(np.array([[8, 8], [8, 8]], float)))


def test_fleiss_kappa_by_hand():
    # Subjects' category counts (-1, 0, 1): (0,0,3) P=1; (1,0,2) P=1/3; (0,3,0) P=1; (1,1,1) P=0 -> P_bar = 7/12.
    # Shares 2/12, 4/12, 6/12 -> P_e = 56/144 = 7/18; kappa = (7/12 - 7/18) / (1 - 7/18) = 7/22.
    votes = np.array([[1, 1, 1], [1, 1, -1], [0, 0, 0], [-1, 0, 1]], dtype=float)
    assert jury_stats.fleiss_kappa(votes) == pytest.approx(7 / 22)


def test_majority_split_is_a_tie():
    votes = np.array([[1, 1, 0], [1, -1, 0], [-1, -1, 1], [1, NAN, NAN], [1, -1, NAN], [NAN, NAN, NAN]])
    assert jury_stats.majority(votes).tolist()[:5] == [1.0, 0.0, -1.0, 1.0, 0.0]
    assert math.isnan(jury_stats.majority(votes)[5])


def test_effective_judges_two_copies_and_one_independent():
    # Correlations [[1,1,0],[1,1,0],[0,0,1]]: eigenvalues 2, 1, 0 -> (3)^2 / (4 + 1) = 1.8.
    j1 = [1, 2, 3, 4]
    j3 = [1, -1, -1, 1]  # centred, orthogonal to j1's centred values
    n_eff, k = jury_stats.effective_judges(np.array([j1, j1, j3], float).T)
    assert (n_eff, k) == (pytest.approx(1.8), 3)
    # A judge that never varies is left out: constant 8 and 4 beside one varying judge leave one judge.
    assert jury_stats.effective_judges(np.array([[8, 4, 1], [8, 4, 5], [8, 4, 3]], float)) == (1.0, 1)


def test_spearman_with_ties():
    assert jury_stats.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert jury_stats.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # Ranks (1, 2, 3) against (1.5, 1.5, 3): rho = corr = 0.866...
    assert jury_stats.spearman([1, 2, 3], [5, 5, 9]) == pytest.approx(math.sqrt(3) / 2)
    assert math.isnan(jury_stats.spearman([1, 2, 3], [8, 8, 8]))


def _single(judge: str, model: str, qid: int, turn: int, score: float | None) -> SingleJudgment:
    return SingleJudgment(question_id=qid, model=model, judge=(judge, "single-v1"), user_prompt="", judgment="",
                          score=score, turn=turn, error=None if score is not None else "unparseable")


def test_single_jury_mean_and_ci_resample_judges():
    # Judge A always 8, judge B always 4: the jury says 6 for every match. Resampling two judges with
    # replacement draws (A, A) 1/4, (A, B) 1/2, (B, B) 1/4 -> a 95% interval of [4, 8]; resampling the
    # questions alone would give [6, 6].
    by_judge = {name: [_single(name, m, q, t, s) for m in ("x", "y") for q in range(1, 11) for t in (1, 2)]
                for name, s in (("A", 8.0), ("B", 4.0))}
    tables = single_jury(by_judge, n_bootstrap=2000, seed=3)
    row = tables.table.loc["x"]
    assert row["score"] == 6.0 and row["judge:A"] == 8.0 and row["judge:B"] == 4.0
    assert (row["ci_low"], row["ci_high"]) == (4.0, 8.0)
    assert row["n_questions"] == 10 and row["judge_failed"] == 0
    # Every value differs between the two judges: alpha = 1 - (n-1) * D_o / D_e with n = 80, only 8 and 4
    # seen: o(4,8) = o(8,4) = 40, n_4 = n_8 = 40 -> 1 - 79 * 80 / (2 * 40 * 40) = -0.975.
    assert tables.agreement.value == pytest.approx(1 - 79 * 80 / (2 * 40 * 40))


def test_single_jury_failed_judge_left_out_and_counted():
    by_judge = {
        "A": [_single("A", "x", 1, 1, 9.0), _single("A", "x", 2, 1, 3.0)],
        "B": [_single("B", "x", 1, 1, 7.0), _single("B", "x", 2, 1, None)],
        "C": [_single("C", "x", 1, 1, 5.0)],  # never judged question 2
    }
    tables = single_jury(by_judge, n_bootstrap=0)
    row = tables.table.loc["x"]
    # Question 1: (9 + 7 + 5) / 3 = 7; question 2: only A's 3 -> the model's mean is (7 + 3) / 2 = 5.
    assert row["score"] == 5.0 and row["judge_failed"] == 2
    assert tables.judge_failed == {"A": 0, "B": 1, "C": 1}
    assert math.isnan(row["ci_low"])


def _pair(judge: str, qid: int, outcome: str) -> PairJudgment:
    return PairJudgment(question_id=qid, model_1="x", model_2="base", g1_winner=outcome, g2_winner=outcome,
                        judge=(judge, "pair-v2"), g1_user_prompt="", g1_judgment="", g2_user_prompt="",
                        g2_judgment="", turn=1)


def test_pairwise_jury_majority_and_kappa():
    said = {"A": ["model_1", "model_1", "tie", "model_2"],
            "B": ["model_1", "model_2", "tie", "model_2"],
            "C": ["model_1", "tie", "model_1", "model_2"]}
    by_judge = {name: [_pair(name, q, o) for q, o in enumerate(outcomes, 1)] for name, outcomes in said.items()}
    tables = pairwise_jury(by_judge, baseline="base", n_bootstrap=0)
    row = tables.table.loc["x"]
    # Jury verdicts: win (3/3), split -> tie, tie (2/3), loss (3/3): adjusted (1 + 0.5 + 0.5 + 0) / 4 = 0.5.
    assert (row["win"], row["loss"], row["tie"]) == (1, 1, 2)
    assert row["win_rate_adjusted"] == 0.5
    assert row["judge:A"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    # Counts (-1, 0, 1) per match: (0,0,3) 1; (1,1,1) 0; (0,2,1) 1/3; (3,0,0) 1 -> P_bar = 7/12;
    # shares 4/12, 3/12, 5/12 -> P_e = 50/144; kappa = (84/144 - 50/144) / (94/144) = 34/94.
    assert tables.agreement.value == pytest.approx(34 / 94)
