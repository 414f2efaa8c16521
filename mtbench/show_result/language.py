"""Answer language in `mtbench show`: each model's share of judged turns not in the bench's language, and
``--language-penalty`` applied to single scores (``mtbench.core.language``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mtbench.core.language import identify, is_wrong, penalized
from mtbench.core.record_files import load_answers
from mtbench.core.records import Answer, SingleJudgment


@dataclass(frozen=True)
class LanguageCount:
    turns: int = 0  # judged turns whose language is known or was identified
    wrong: int = 0
    undetermined: int = 0  # too little prose (code only) to tell


def turn_language(j: SingleJudgment, answers: dict[str, dict[int, Answer] | None], answer_dir: Path) -> str | None:
    """The judged turn's language: as the judgment recorded it, else identified now from the answer file
    (judgments written by FastChat or its forks carry none)."""
    if "answer_language" in j.extra:
        return j.extra["answer_language"]
    if j.model not in answers:
        path = answer_dir / f"{j.model}.jsonl"
        answers[j.model] = load_answers(path) if path.is_file() else None
    by_id = answers[j.model]
    answer = by_id.get(j.question_id) if by_id is not None else None
    if answer is None or len(answer.turns) < j.turn:
        return None
    return identify(answer.turns[j.turn - 1])


def apply_language(
    judgments: Sequence[SingleJudgment], expected: str, penalty: str, answer_dir: Path
) -> tuple[list[SingleJudgment], dict[str, LanguageCount]]:
    """The judgments with ``penalty`` applied to wrong-language turns, and the count per model."""
    answers: dict[str, dict[int, Answer] | None] = {}
    counts: dict[str, LanguageCount] = {}
    seen: set[tuple[str, int, int]] = set()  # a turn judged again (rerun, --judge-samples) is counted once
    out = []
    for j in judgments:
        language = turn_language(j, answers, answer_dir)
        wrong = is_wrong(language, expected)
        if (j.model, j.question_id, j.turn) not in seen:
            seen.add((j.model, j.question_id, j.turn))
            c = counts.get(j.model, LanguageCount())
            counts[j.model] = LanguageCount(c.turns + 1, c.wrong + wrong, c.undetermined + (language is None))
        if wrong and j.score is not None and penalty != "none":
            j = replace(j, score=penalized(j.score, True, penalty))
        out.append(j)
    return out, counts


def language_note(expected: str, penalty: str, counts: dict[str, LanguageCount]) -> str:
    """One line: per model, the judged turns not in the bench's language."""
    parts = [
        f"{m} {c.wrong}/{c.turns} ({100 * c.wrong / c.turns:.1f}%)" + (f", {c.undetermined} code-only" if c.undetermined
                                                                      else "")
        for m, c in sorted(counts.items()) if c.turns
    ]
    how = {"none": "scores as the judge gave them (--language-penalty none)",
           "zero": "such turns scored 1 (--language-penalty zero, as the Finnish MT-Bench)",
           "sqrt": "such turns scored the square root (--language-penalty sqrt, as KoMT-Bench)"}[penalty]
    return f"answer language: judged turns not in '{expected}': {'; '.join(parts)}; {how}"
