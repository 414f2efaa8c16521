"""What the Python API returns: frozen values over the steps' own results (nothing here computes a score).

``Scores`` holds ``mtbench show``'s tables as pandas DataFrames, ``Answers`` what the answer step did per
model, ``Judged`` what the judge did and what it cost, ``Evaluation`` all of a run. Each keeps the step's own
result (``report``, ``summary``, ``outcome``) for whatever the short fields leave out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.core.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from mtbench.gen_judgment import JudgeSummary
    from mtbench.pipeline import AnswerStep, ModelAnswers, RunOutcome, RunPlan
    from mtbench.show_result import ShowReport


@dataclass(frozen=True)
class Usage:
    """Calls, tokens and cost of a step (``cost`` None where the price is unknown; 0 for a local judge)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    elapsed_s: float = 0.0

    @classmethod
    def of_judge(cls, summary: JudgeSummary | None) -> Usage:
        if summary is None:
            return cls(cost=0.0)
        return cls(summary.calls, summary.prompt_tokens, summary.completion_tokens,
                   0.0 if summary.local else summary.cost, summary.elapsed_s)


@dataclass(frozen=True)
class Scores:
    """``mtbench show``'s tables.

    ``table``: one row per model (index ``model``): single mode ``first_turn``, ``second_turn``, ``overall``,
    ``ci_low``/``ci_high``, ``n_valid``, ``n_failed``, ``n_questions``, ``partial``; the pairwise modes the
    win rates (``win_rate_adjusted``, ...). ``per_turn``: single mode's ``first_turn`` and ``second_turn``
    columns. ``per_category``: categories (rows) x models (columns); None where categories are unknown or
    in the pairwise modes.
    """

    mode: str
    table: pd.DataFrame = field(repr=False)
    per_turn: pd.DataFrame | None = field(repr=False)
    per_category: pd.DataFrame | None = field(repr=False)
    judgment_file: Path
    notes: tuple[str, ...] = ()
    report: ShowReport | None = field(default=None, repr=False, compare=False)
    logged: Mapping[str, str] = field(default_factory=dict)  # tracker name -> where it logged (--log-to)

    @classmethod
    def of(cls, report: ShowReport, logged: Mapping[str, str] | None = None) -> Scores:
        config, logged = report.config, dict(logged or {})
        if report.single is not None:
            table = report.single.scores
            return cls(config.mode, table, table[["first_turn", "second_turn"]], report.single.by_category,
                       config.judgments, report.notes, report, logged)
        assert report.pairwise is not None
        return cls(config.mode, report.pairwise.table, None, None, config.judgments, report.notes, report, logged)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.table.index)

    def _model(self, model: str | None) -> str:
        if model is None:
            if len(self.table.index) != 1:
                raise UserError(f"the table has {len(self.table.index)} models ({', '.join(self.models)}); name one")
            return str(self.table.index[0])
        if model not in self.table.index:
            raise UserError(f"no model {model!r} in the table (it has {', '.join(self.models) or 'none'})")
        return model

    def score(self, model: str | None = None) -> float:
        """The model's headline number: its overall score (single), its adjusted win rate (pairwise)."""
        column = "overall" if self.per_turn is not None else "win_rate_adjusted"
        return float(self.table.loc[self._model(model), column])

    def metrics(self, model: str | None = None, prefix: str = "mtbench") -> dict[str, float]:
        """One model's numbers as a flat dict for a training log: ``PREFIX/score``, ``PREFIX/turn_1``,
        ``PREFIX/turn_2``, ``PREFIX/category/NAME``, ``PREFIX/n_failed`` (single); the score and win rates
        (pairwise). NaN (a turn with no valid judgment) is left out."""
        name = self._model(model)
        row = self.table.loc[name]
        out: dict[str, Any] = {f"{prefix}/score": self.score(name)}
        if self.per_turn is not None:
            out[f"{prefix}/turn_1"] = row["first_turn"]
            out[f"{prefix}/turn_2"] = row["second_turn"]
            out[f"{prefix}/n_failed"] = row["n_failed"]
            if self.per_category is not None and name in self.per_category.columns:
                for category, value in self.per_category[name].items():
                    out[f"{prefix}/category/{category}"] = value
        else:
            for column in ("win_rate", "loss_rate", "win_rate_adjusted"):
                out[f"{prefix}/{column}"] = row[column]
        return {k: float(v) for k, v in out.items() if v is not None and not math.isnan(float(v))}


@dataclass(frozen=True)
class Answers:
    """What the answer step did: one ``ModelAnswers`` per model (counts, file, or the error that stopped
    it), the step's exit code (the worst model's), and the answer files."""

    models: tuple[ModelAnswers, ...]
    exit_code: int
    files: tuple[Path, ...]

    @classmethod
    def of(cls, step: AnswerStep, files: tuple[Path, ...]) -> Answers:
        return cls(step.models, step.exit_code, files)

    @property
    def usage(self) -> Usage:
        """Tokens an endpoint reported for the answers (a local engine's are not counted)."""
        tokens = [m.tokens for m in self.models if m.tokens is not None]
        return Usage(sum(m.answered + m.failed for m in self.models), sum(t[0] for t in tokens),
                     sum(t[1] for t in tokens), None, sum(m.elapsed_s or 0.0 for m in self.models))


@dataclass(frozen=True)
class Judged:
    """What the judge did: its judgment file, usage and cost; ``summary`` None where nothing was left to
    judge (or a dry run)."""

    judgment_file: Path
    summary: JudgeSummary | None
    usage: Usage

    @property
    def written(self) -> int:
        return self.summary.written if self.summary is not None else 0

    @property
    def failures(self) -> Mapping[str, int]:
        return self.summary.failures if self.summary is not None else {}


@dataclass(frozen=True)
class Files:
    answers: tuple[Path, ...] = ()
    judgments: Path | None = None
    report: Path | None = None


@dataclass(frozen=True)
class Evaluation:
    """A whole run (``mtbench run``): its exit code (the worst step's: 0 ok, 1 a model's answers failed),
    the plan it made, the tables (None on a dry run or where no model got answers), the steps' results,
    the files and the judge's usage and cost."""

    exit_code: int
    plan: RunPlan = field(repr=False)
    scores: Scores | None
    answers: Answers | None
    judged: Judged | None
    files: Files
    outcome: RunOutcome = field(repr=False, compare=False)

    @property
    def usage(self) -> Usage:
        return self.judged.usage if self.judged is not None else Usage(cost=0.0)

    @classmethod
    def of(cls, outcome: RunOutcome, scores: Scores | None = None) -> Evaluation:
        answers = Answers.of(outcome.answers, outcome.answer_files) if outcome.answers is not None else None
        judged = None
        if outcome.judgment_file is not None:
            judged = Judged(outcome.judgment_file, outcome.judged, Usage.of_judge(outcome.judged))
        if scores is None and outcome.tables is not None:
            scores = Scores.of(outcome.tables)
        files = Files(outcome.answer_files, outcome.judgment_file, outcome.report_file)
        return cls(outcome.exit_code, outcome.plan, scores, answers, judged, files, outcome)
