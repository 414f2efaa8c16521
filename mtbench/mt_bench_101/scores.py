"""MT-Bench-101's scores from its per-turn judgments (pure but for reading the files).

A dialogue's score is the lowest score of its judged turns (the paper's rule); a dialogue counts only when
every one of its judged turns has a score (a failed or missing judgment leaves it out, and is counted).
A task's score is the mean over its dialogues. An ability, a level and the overall score are the mean of
their tasks' scores (OpenCompass's ``avg`` is the mean of the 13 task means), so a task with many
dialogues weighs no more than one with few.

Intervals: percentile bootstrap over dialogues, resampled within each task (a stratified bootstrap: every
resample keeps each task's dialogue count), the same resamples feeding every row, seeded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mtbench.core.records import SingleJudgment
from mtbench.mt_bench_101.data import TASK_NAMES, TASKS, TAXONOMY
from mtbench.show_result.stats import bootstrap_weights


@dataclass(frozen=True)
class Row:
    kind: str  # "task", "ability", "level" or "overall"
    name: str  # the task code, or the ability's / level's name
    label: str  # what the table prints: the task's full name, the tasks an ability holds
    score: float | None  # None where no dialogue of its tasks is complete
    low: float | None
    high: float | None
    dialogues: int


@dataclass(frozen=True)
class ModelScores:
    model: str
    rows: tuple[Row, ...]
    dialogues: int  # complete dialogues scored
    incomplete: int  # dialogues judged in part, or with a failed judgment: left out


def turn_scores(records: Iterable[SingleJudgment]) -> dict[tuple[str, int], dict[int, float | None]]:
    """(model, dialogue) -> turn -> score (None: failed); a turn judged several times (--judge-samples)
    scores the mean of its samples, and of a record written twice the last line counts."""
    latest: dict[tuple[int, str, int, int], SingleJudgment] = {}
    for r in records:
        latest[(r.question_id, r.model, r.turn, r.sample)] = r
    samples: dict[tuple[str, int, int], list[float | None]] = defaultdict(list)
    for (qid, model, turn, _), r in latest.items():
        samples[(model, qid, turn)].append(r.score)
    out: dict[tuple[str, int], dict[int, float | None]] = defaultdict(dict)
    for (model, qid, turn), scores in samples.items():
        out[(model, qid)][turn] = None if None in scores else float(np.mean([s for s in scores if s is not None]))
    return dict(out)


def dialogue_scores(
    turns: Mapping[int, float | None], expected: Sequence[int]
) -> float | None:
    """The dialogue's score: the minimum over its judged turns; None unless every expected turn has one."""
    got = [turns.get(t) for t in expected]
    if not got or any(s is None for s in got):
        return None
    return min(s for s in got if s is not None)


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    if replicates.size == 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return float(low), float(high)


def model_scores(
    model: str, by_task: Mapping[str, Sequence[float]], incomplete: int, n_bootstrap: int, seed: int,
    confidence: float,
) -> ModelScores:
    """The 13 task rows, the 7 abilities, the 3 levels and the overall score, from each task's dialogue
    scores, with stratified bootstrap intervals."""
    means: dict[str, float] = {}
    reps: dict[str, np.ndarray] = {}
    for i, task in enumerate(TASKS):
        values = np.asarray(by_task.get(task, ()), dtype=np.float64)
        if values.size == 0:
            continue
        means[task] = float(values.mean())
        weights = bootstrap_weights(values.size, n_bootstrap, seed + i)  # each task its own draws
        reps[task] = weights @ values / values.size

    def row(kind: str, name: str, label: str, tasks: Sequence[str]) -> Row:
        present = [t for t in tasks if t in means]
        n = sum(len(by_task.get(t, ())) for t in present)
        if not present:
            return Row(kind, name, label, None, None, None, 0)
        low, high = _interval(np.mean([reps[t] for t in present], axis=0), confidence)
        return Row(kind, name, label, float(np.mean([means[t] for t in present])), low, high, n)

    rows = [row("task", t, TASK_NAMES[t], (t,)) for t in TASKS]
    for _, abilities in TAXONOMY:
        rows += [row("ability", a, "+".join(ts), ts) for a, ts in abilities]
    for level, abilities in TAXONOMY:
        rows.append(row("level", level, "+".join(a for a, _ in abilities), [t for _, ts in abilities for t in ts]))
    rows.append(row("overall", "Overall", "mean of the task scores", TASKS))
    return ModelScores(model, tuple(rows), sum(len(v) for v in by_task.values()), incomplete)
