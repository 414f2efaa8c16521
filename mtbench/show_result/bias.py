"""What a pairwise judge's verdicts lean on: position, length, markdown (pure; ``mtbench bias``).

Each statistic is a ratio of per-question sums (e.g. first-position wins over decided games), so its CI is
the percentile bootstrap over questions of ``stats.bootstrap_ratio_ci``, with the same draws for every
statistic and model. A game is one of a match's two position-swapped judgments: in game 1 ``model_1`` is
shown first (Assistant A), in game 2 ``model_2``. FastChat records each game's winner by model name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from mtbench.core.records import PairJudgment
from mtbench.show_result.stats import DEFAULT_CONFIDENCE, bootstrap_ratio_ci
from mtbench.show_result.style import AnswerStyles

LENGTH_MARGIN = 1.10  # "lengths differ": the longer answer has more than 10% more characters


@dataclass(frozen=True)
class Rate:
    """One statistic: its value, its CI over questions, and how many units (games, matches, answers) it counts."""

    value: float
    ci: tuple[float, float]
    n: int

    def to_json(self) -> dict[str, object]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        ci = None if any(math.isnan(c) for c in self.ci) else [float(self.ci[0]), float(self.ci[1])]
        return {"value": num(self.value), "ci": ci, "n": int(self.n)}


NAN_RATE = Rate(math.nan, (math.nan, math.nan), 0)


def ratio_rate(num: np.ndarray, den: np.ndarray, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """sum(num) / sum(den) with its bootstrap CI; ``num``/``den`` are per question (the resampling unit)."""
    total = float(den.sum())
    if total == 0:
        return NAN_RATE
    low, high = bootstrap_ratio_ci(num[None, :], den[None, :], weights, confidence)
    return Rate(float(num.sum()) / total, (float(low[0]), float(high[0])), int(round(total)))


@dataclass(frozen=True)
class Games:
    """Every game of the counted matches as parallel arrays (one entry per game)."""

    question: np.ndarray  # index into ``questions``
    game: np.ndarray  # 1 or 2
    first: np.ndarray  # model shown first (index into ``models``)
    second: np.ndarray
    first_won: np.ndarray  # bool
    second_won: np.ndarray
    tie: np.ndarray
    first_longer: np.ndarray  # +1 first longer by the margin, -1 second longer, 0 neither or unknown
    first_more_markdown: np.ndarray  # +1, -1 or 0 (equal or unknown)
    match: np.ndarray  # index of the match the game belongs to
    flipped: np.ndarray  # per match: its two games disagree
    match_question: np.ndarray
    match_models: np.ndarray  # (n_matches, 2)
    models: tuple[str, ...]
    questions: tuple[int, ...]


def _sign(a: float, b: float, margin: float) -> int:
    if a > b * margin:
        return 1
    if b > a * margin:
        return -1
    return 0


def pair_games(judgments: Iterable[PairJudgment], styles: AnswerStyles | None) -> Games:
    """The games of the matches without an error game; styles (when given) say which answer is longer."""
    matches = [j for j in judgments if not j.failed]
    models = tuple(sorted({m for j in matches for m in (j.model_1, j.model_2)}))
    questions = tuple(sorted({j.question_id for j in matches}))
    m_index = {m: i for i, m in enumerate(models)}
    q_index = {q: i for i, q in enumerate(questions)}
    rows: list[tuple[int, ...]] = []
    flipped, match_q, match_models = [], [], []
    for k, j in enumerate(matches):
        flipped.append(j.g1_winner != j.g2_winner)
        match_q.append(q_index[j.question_id])
        match_models.append((m_index[j.model_1], m_index[j.model_2]))
        for game, first, second, winner in ((1, j.model_1, j.model_2, j.g1_winner), (2, j.model_2, j.model_1, j.g2_winner)):
            first_side = "model_1" if game == 1 else "model_2"
            s1 = styles.get(first, j.question_id, j.turn) if styles else None
            s2 = styles.get(second, j.question_id, j.turn) if styles else None
            longer = _sign(s1.length, s2.length, LENGTH_MARGIN) if s1 and s2 else 0
            more_md = _sign(s1.markdown, s2.markdown, 1.0) if s1 and s2 else 0
            rows.append((
                q_index[j.question_id], game, m_index[first], m_index[second], winner == first_side,
                winner not in ("tie", first_side), winner == "tie", longer, more_md, k,
            ))
    a = np.array(rows, dtype=np.int64).reshape(-1, 10)
    return Games(
        question=a[:, 0], game=a[:, 1], first=a[:, 2], second=a[:, 3], first_won=a[:, 4].astype(bool),
        second_won=a[:, 5].astype(bool), tie=a[:, 6].astype(bool), first_longer=a[:, 7],
        first_more_markdown=a[:, 8], match=a[:, 9], flipped=np.array(flipped, dtype=bool),
        match_question=np.array(match_q, dtype=np.int64), match_models=np.array(match_models, dtype=np.int64).reshape(-1, 2),
        models=models, questions=questions,
    )


def _per_question(values: np.ndarray, questions: np.ndarray, mask: np.ndarray, n_q: int) -> np.ndarray:
    return np.bincount(questions[mask], values[mask].astype(np.float64), n_q)


def pairwise_bias(
    games: Games, weights: np.ndarray, model: str | None = None, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, Rate]:
    """Position, tie, flip, longer-wins and more-markdown-wins rates over all games, or those ``model`` played."""
    n_q = len(games.questions)
    if model is None:
        in_game = np.ones(len(games.question), dtype=bool)
        in_match = np.ones(len(games.flipped), dtype=bool)
    else:
        i = games.models.index(model)
        in_game = (games.first == i) | (games.second == i)
        in_match = (games.match_models == i).any(axis=1)
    decided = in_game & ~games.tie
    one = np.ones(len(games.question))

    def rate(hit: np.ndarray, among: np.ndarray) -> Rate:
        return ratio_rate(
            _per_question(hit, games.question, among, n_q), _per_question(one, games.question, among, n_q),
            weights, confidence,
        )

    longer = decided & (games.first_longer != 0)
    longer_won = np.where(games.first_longer > 0, games.first_won, games.second_won)
    markdown = decided & (games.first_more_markdown != 0)
    markdown_won = np.where(games.first_more_markdown > 0, games.first_won, games.second_won)
    ones = np.ones(len(games.flipped))
    flip = ratio_rate(
        _per_question(games.flipped, games.match_question, in_match, n_q),
        _per_question(ones, games.match_question, in_match, n_q), weights, confidence,
    )
    return {
        "first_position_win_rate": rate(games.first_won, decided),
        "first_position_win_rate_game_1": rate(games.first_won, decided & (games.game == 1)),
        "first_position_win_rate_game_2": rate(games.first_won, decided & (games.game == 2)),
        "swap_flip_rate": flip,
        "tie_rate": rate(games.tie, in_game),
        "longer_wins_rate": rate(longer_won, longer),
        "more_markdown_wins_rate": rate(markdown_won, markdown),
    }


# The value meaning "no bias" for each statistic a reading tests (rates of 0.5, correlations and slopes of 0).
NULLS: Mapping[str, float] = {
    "first_position_win_rate": 0.5, "first_position_win_rate_game_1": 0.5, "first_position_win_rate_game_2": 0.5,
    "longer_wins_rate": 0.5, "more_markdown_wins_rate": 0.5, "score_length_spearman": 0.0,
    "score_length_spearman_within_question": 0.0, "points_per_length_doubling": 0.0, "self_preference": 0.0,
}

_WHAT = {
    "first_position_win_rate": "the answer shown first wins {v} of decided games",
    "first_position_win_rate_game_1": "in game 1 the first-shown answer wins {v} of decided games",
    "first_position_win_rate_game_2": "in game 2 (positions swapped) the first-shown answer wins {v}",
    "swap_flip_rate": "{v} of matches change verdict when the answers swap places",
    "tie_rate": "{v} of games are ties",
    "longer_wins_rate": "the longer answer (>10% more characters) wins {v} of decided games",
    "more_markdown_wins_rate": "the answer with more markdown wins {v} of decided games",
    "score_length_spearman": "score and length have Spearman {v} over all answers",
    "score_length_spearman_within_question": "within a question, score and length have Spearman {v}",
    "points_per_length_doubling": "doubling an answer's length goes with {v} score points",
    "self_preference": "the judge's own family gains {v} over the reference judge, beyond other models",
}


def reading(key: str, rate: Rate) -> str:
    """One line saying what the number means: its value, CI and whether the CI excludes "no bias"."""
    if math.isnan(rate.value):
        return "no data (nothing to count)"
    fraction = "_rate" in key
    v = f"{rate.value:.1%}" if fraction else f"{rate.value:+.3f}"
    text = _WHAT.get(key, key + " {v}").format(v=v)
    null = NULLS.get(key)
    if null is None or math.isnan(rate.ci[0]):
        return text
    null_text = f"{null:.0%}" if fraction else f"{null:g}"
    if rate.ci[0] > null or rate.ci[1] < null:
        return f"{text}; the CI excludes {null_text}: a lean"
    return f"{text}; the CI includes {null_text}: no clear lean"

