"""Reading the judge's reply: FastChat's score and verdict patterns (pure functions)."""

from __future__ import annotations

import re

from mtbench.core.errors import UserError

# FastChat's patterns, exactly as compiled in common.py.
ONE_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
TWO_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*),\s?(\d+\.?\d*)\]\]")
TWO_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*),\s?(\d+\.?\d*)\]")
TIE_DELTA = 0.1


def _number(text: str) -> int | float:
    # What ast.literal_eval gives for the regex's matches ("8" -> 8, "8.5" -> 8.5, "8." -> 8.0), except
    # that a leading zero ("08") is 8 here where literal_eval raises and kills FastChat's worker.
    return float(text) if "." in text else int(text)


def parse_rating(judgment: str) -> int | float | None:
    """The score in a single-mode judgment: the first ``[[n]]``, else the first ``[n]``; None if neither."""
    match = ONE_SCORE_PATTERN.search(judgment) or ONE_SCORE_PATTERN_BACKUP.search(judgment)
    return _number(match.group(1)) if match else None


def parse_verdict(judgment: str, output_format: str = "[[A]]") -> str | None:
    """"A", "B" or "tie" for a pairwise judgment, None if the reply has no verdict.

    ``[[A]]`` format: substring checks in FastChat's order (A, then B, then C), so a reply that quotes
    the instructions' ``[[A]]`` before its own verdict reads as A, as in FastChat.
    """
    if output_format == "[[A]]":
        if "[[A]]" in judgment:
            return "A"
        if "[[B]]" in judgment:
            return "B"
        if "[[C]]" in judgment:
            return "tie"
        return None
    if output_format == "[[rating_a,rating_b]]":
        match = TWO_SCORE_PATTERN.search(judgment) or TWO_SCORE_PATTERN_BACKUP.search(judgment)
        if not match:
            return None
        a, b = _number(match.group(1)), _number(match.group(2))
        if abs(a - b) <= TIE_DELTA:
            return "tie"
        return "A" if a > b else "B"
    raise UserError(f"judge prompt output_format {output_format!r} is not one FastChat defines")


def game_winner(verdict: str | None, game: int) -> str:
    """Map a verdict to the record's winner: game 1 shows model_1 as A, game 2 shows model_2 as A."""
    if verdict is None:
        return "error"
    if verdict == "tie":
        return "tie"
    first = verdict == "A"
    if game == 2:
        first = not first
    return "model_1" if first else "model_2"
