"""Pairwise votes and FastChat's rules for them: orientation by model name, tie equality, judge names (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mtbench.core.records import PairJudgment

HUMAN = "human"
AUTHOR = "author"
GPT4_PAIR = "gpt4-pair"  # FastChat's name for GPT-4's pairwise votes in the human-judgment data
TIE = "tie"
INCONSISTENT_TIE = "tie (inconsistent)"  # the label the gpt4_pair split uses when the two games disagree

# (turn, question_id, first model by name, second model by name)
VoteKey = tuple[int, int, str, str]


@dataclass(frozen=True)
class Vote:
    """One pairwise verdict. ``winner`` is "model_a", "model_b" or a tie label; ``judge`` is normalised
    (see ``normalize_judge``); ``voter`` is who voted as the file says it ("expert_3"), if anyone."""

    question_id: int
    model_a: str
    model_b: str
    winner: str
    judge: str
    turn: int
    voter: str = ""

    def oriented(self) -> tuple[VoteKey, str]:
        """The vote's key (models sorted by name) and its winner flipped to match that order."""
        if self.model_a <= self.model_b:
            return (self.turn, self.question_id, self.model_a, self.model_b), self.winner
        return (self.turn, self.question_id, self.model_b, self.model_a), flip(self.winner)


def flip(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def is_tie(winner: str) -> bool:
    return TIE in winner


def votes_agree(a: str, b: str) -> bool:
    """FastChat's equality: both ties (of any kind), or the same label."""
    return (is_tie(a) and is_tie(b)) or a == b


def normalize_judge(raw: Any) -> str:
    """The judge of a human-judgment-layout vote, named as FastChat groups them.

    ``["gpt-4", "pair-v2"]`` -> "gpt4-pair"; "expert_12" -> "human"; "author_3" -> "author". Beyond
    FastChat: the string "gpt4_pair" (how some exports of the HF split spell it) is "gpt4-pair", any other
    ``[model, prompt]`` list is the model's name, and any other string is kept as it is.
    """
    if isinstance(raw, (list, tuple)):
        if not raw or not all(isinstance(x, str) for x in raw):
            raise ValueError(f"judge must be a string or a list of strings, got {json.dumps(raw)}")
        model = raw[0]
        if model == "gpt-4" and (len(raw) < 2 or raw[1].startswith("pair")):
            return GPT4_PAIR
        return model
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"judge must be a string or a list of strings, got {json.dumps(raw)}")
    if raw.startswith("expert"):
        return HUMAN
    if raw.startswith("author"):
        return AUTHOR
    if raw in ("gpt4_pair", "gpt4-pair"):
        return GPT4_PAIR
    return raw


@dataclass(frozen=True)
class VoteSet:
    """The votes read from a file, and what was left out on the way."""

    votes: tuple[Vote, ...]
    errors: int = 0  # pairwise matches with a failed game, left out (FastChat's show drops them too)
    replaced: int = 0  # matches judged again later in the file; the last one counts


def match_verdict(judgment: PairJudgment) -> str:
    """A match's verdict by FastChat's show rule, in vote terms (model_1 = model_a)."""
    g1, g2 = judgment.g1_winner, judgment.g2_winner
    if g1 != g2:
        return INCONSISTENT_TIE
    return {"model_1": "model_a", "model_2": "model_b"}.get(g1, TIE)


def votes_from_pair_judgments(judgments: Iterable[PairJudgment], judge: str) -> VoteSet:
    """One vote per (turn, question, model pair); failed matches are counted, not voted."""
    latest: dict[VoteKey, Vote] = {}
    errors = replaced = 0
    for j in judgments:
        if j.failed:
            errors += 1
            continue
        vote = Vote(j.question_id, j.model_1, j.model_2, match_verdict(j), judge, j.turn)
        key, _ = vote.oriented()
        if key in latest:
            replaced += 1
        latest[key] = vote
    return VoteSet(tuple(latest.values()), errors, replaced)
