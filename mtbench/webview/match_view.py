"""A pairwise match as the pages show it (FastChat's rule for the combined verdict)."""

from __future__ import annotations

from typing import Any

from mtbench.core.records import PairJudgment
from mtbench.show_result import match_outcome
from mtbench.webview.markup import rich


def winner_name(winner: str, model_1: str, model_2: str) -> str:
    """``model_1``/``model_2`` -> the model's name; ``tie`` and ``error`` unchanged."""
    return {"model_1": model_1, "model_2": model_2}.get(winner, winner)


def match_view(j: PairJudgment | None, turn: int) -> dict[str, Any]:
    """One turn's match as the pages show it: both games (winners as model names) and the combined verdict."""
    if j is None:
        return {"turn": turn, "status": "missing"}
    out: dict[str, Any] = {
        "turn": turn,
        "model_1": j.model_1,
        "model_2": j.model_2,
        "prompt": j.judge[1],
        "games": [
            {
                "game": 1,
                "assistant_a": j.model_1,
                "assistant_b": j.model_2,
                "winner": winner_name(j.g1_winner, j.model_1, j.model_2),
                "explanation": rich(j.g1_judgment),
            },
            {
                "game": 2,
                "assistant_a": j.model_2,
                "assistant_b": j.model_1,
                "winner": winner_name(j.g2_winner, j.model_1, j.model_2),
                "explanation": rich(j.g2_judgment),
            },
        ],
    }
    if j.failed:
        games = [str(i) for i, w in ((1, j.g1_winner), (2, j.g2_winner)) if w == "error"]
        out["status"] = "failed"
        out["failure"] = j.error or f"the judge failed in game {' and '.join(games)}"
        out["verdict"] = None
        out["inconsistent"] = False
        return out
    # FastChat's show_result rule: a tie in game 1, or games that disagree, make the match a tie.
    out["status"] = "judged"
    out["verdict"] = winner_name(match_outcome(j.g1_winner, j.g2_winner), j.model_1, j.model_2)
    out["inconsistent"] = j.g1_winner != j.g2_winner
    return out
