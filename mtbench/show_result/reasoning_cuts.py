"""Turns a reasoning model never answered: cut by the token limit inside its reasoning, judged as the
empty answers they are. Counted per model from the answer files, so a score that is low because the
budget ran out while thinking says so next to the table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from mtbench.core.record_files import load_answers
from mtbench.core.records import RecordError


def turns_cut_while_reasoning(answer_dir: Path, models: Iterable[str]) -> dict[str, int]:
    """Per model with a readable answer file, its judged turns (``choices[0]``) cut while reasoning."""
    counts: dict[str, int] = {}
    for model in sorted(set(models)):
        path = answer_dir / f"{model}.jsonl"
        if not path.is_file():
            continue
        try:
            answers = load_answers(path)
        except (RecordError, OSError):  # the judge already read what it could; show is not the place to fail
            continue
        counts[model] = sum(len(a.choices[0].cut_while_reasoning) for a in answers.values())
    return counts


def reasoning_cut_notes(counts: Mapping[str, int]) -> list[str]:
    """One note naming the models with turns cut while reasoning, or none."""
    cut = {m: n for m, n in counts.items() if n}
    if not cut:
        return []
    rows = ", ".join(f"{model} {n}" for model, n in cut.items())
    return [
        f"turns cut while reasoning: {rows}; the token limit ended them inside the reasoning, so they were "
        "judged as empty answers (rerun the answers with a larger --max-tokens / --max-new-token)"
    ]
