"""`mtbench check-judge`: does this judge still judge like the leaderboard's GPT-4?

It re-judges a small fixed subset of FastChat's published answers (the first K questions of a few models,
both turns) with the user's judge, through ``mtbench judge`` itself (same prompts, plan, cost estimate,
``--max-cost``, resume), and compares the scores with the published GPT-4 single judgments that
``mtbench download --pregenerated`` puts under the data dir. Per model: the mean of each and the
difference; over all items: exact agreement, agreement within one point, and Cohen's kappa (scores as
categories, ``mtbench.agreement``). The check's own judgments go to a file of their own
(``model_judgment/check_judge/JUDGE_single.jsonl``), so they never mix with a real run's, nor with the
published file when the judge is called gpt-4 too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.agreement.stats import cohen_kappa
from mtbench.core.bench import DEFAULT_JUDGE_MODEL, BenchLayout, Mode, judge_file_stem
from mtbench.core.client import EndpointConfig
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_single_judgments
from mtbench.core.records import SingleJudgment, latest_by_key
from mtbench.download.pregenerated import JUDGE_MODEL as PUBLISHED_JUDGE

DEFAULT_MODELS = ("gpt-4", "vicuna-13b-v1.3", "llama-13b")
DEFAULT_FIRST_N = 10
_HINT = "run `mtbench download --pregenerated` (or give --published-file)"

Item = tuple[int, str, int]  # (question_id, model, turn)


@dataclass(frozen=True)
class CheckJudgeConfig:
    """One drift check; validates itself once (one-line UserError)."""

    layout: BenchLayout
    judge_model: str = DEFAULT_JUDGE_MODEL
    models: tuple[str, ...] = DEFAULT_MODELS
    first_n: int = DEFAULT_FIRST_N
    published_file: Path | None = None  # None: the layout's gpt-4_single.jsonl
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    parallel: int = 8
    max_cost: float | None = None
    price_input: float | None = None
    price_output: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.first_n < 1:
            raise UserError(f"--first-n must be at least 1, got {self.first_n}")
        if not self.models:
            raise UserError("--models needs at least one model")

    @property
    def published(self) -> Path:
        return self.published_file or self.layout.judgment_file(PUBLISHED_JUDGE, Mode.SINGLE)

    @property
    def output(self) -> Path:
        return self.layout.judgment_dir / "check_judge" / f"{judge_file_stem(self.judge_model)}_single.jsonl"


@dataclass(frozen=True)
class ModelDrift:
    model: str
    items: int
    published_mean: float
    judge_mean: float

    @property
    def difference(self) -> float:
        return self.judge_mean - self.published_mean


@dataclass(frozen=True)
class DriftReport:
    """The user's judge against the published scores, over the (question, model, turn) items both have."""

    judge_model: str
    published_file: Path
    models: tuple[ModelDrift, ...]
    items: int
    exact: float
    within_one: float
    kappa: float | None
    not_judged: int  # published items the judge gave no valid score for

    def describe(self) -> str:
        rows = [("model", "items", "published", "this judge", "difference")]
        rows += [(m.model, str(m.items), f"{m.published_mean:.2f}", f"{m.judge_mean:.2f}", f"{m.difference:+.2f}")
                 for m in self.models]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"check-judge: {self.judge_model} against the published GPT-4 single judgments ({self.published_file})"]
        for i, r in enumerate(rows):
            lines.append("  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        kappa = "undefined" if self.kappa is None else f"{self.kappa:.3f}"
        lines.append(
            f"over {self.items} items: exact agreement {self.exact:.3f}, within one point {self.within_one:.3f}, "
            f"Cohen's kappa {kappa} (scores 1-10 as categories)"
        )
        if self.not_judged:
            lines.append(f"note: {self.not_judged} published item(s) got no valid score from {self.judge_model}; left out")
        return "\n".join(lines)


def _valid(records: Iterable[SingleJudgment]) -> dict[Item, float]:
    latest = latest_by_key(records, lambda j: j.key)
    return {(j.question_id, j.model, j.turn): float(j.score) for j in latest.values() if j.score is not None}


def _label(score: float) -> str:
    return f"{score:g}"


def compare_scores(published: Mapping[Item, float], judged: Mapping[Item, float], *, judge_model: str = "",
                   published_file: Path = Path()) -> DriftReport:
    """The drift of ``judged`` from ``published`` over the items both scored (pure)."""
    items = sorted(published.keys() & judged.keys())
    if not items:
        raise UserError(f"check-judge: {judge_model or 'the judge'} scored none of the published items")
    per_model: dict[str, list[Item]] = {}
    for item in items:
        per_model.setdefault(item[1], []).append(item)
    models = tuple(
        ModelDrift(model, len(its), sum(published[i] for i in its) / len(its), sum(judged[i] for i in its) / len(its))
        for model, its in sorted(per_model.items())
    )
    diffs = [abs(judged[i] - published[i]) for i in items]
    return DriftReport(
        judge_model=judge_model, published_file=published_file, models=models, items=len(items),
        exact=sum(d == 0 for d in diffs) / len(items), within_one=sum(d <= 1 for d in diffs) / len(items),
        kappa=cohen_kappa([(_label(published[i]), _label(judged[i])) for i in items]),
        not_judged=len(published.keys() - judged.keys()),
    )


def _published_items(config: CheckJudgeConfig, question_ids: Sequence[int]) -> dict[Item, float]:
    path = config.published
    if not path.is_file():
        raise UserError(f"no published GPT-4 judgments at {path}: {_HINT}")
    wanted, qids = set(config.models), set(question_ids)
    published = {i: s for i, s in _valid(load_single_judgments(path)).items() if i[1] in wanted and i[0] in qids}
    missing = [m for m in config.models if not any(i[1] == m for i in published)]
    if missing:
        raise UserError(f"{path}: no published judgment of {', '.join(missing)} in the first {config.first_n} questions")
    for model in config.models:
        if not config.layout.answer_file(model).is_file():
            raise UserError(f"no answers of {model} at {config.layout.answer_file(model)}: {_HINT}")
    return published


def check_judge(
    config: CheckJudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print
) -> DriftReport | None:
    """Judge the subset with the user's judge (or only plan it: ``dry_run``), then compare with the published."""
    from mtbench.core.record_files import load_questions
    from mtbench.gen_judgment import JudgeConfig, judge

    layout = config.layout
    if not layout.question_file.is_file():
        raise UserError(f"{layout.question_file} not found: run `mtbench download`")
    qids = [q.question_id for q in load_questions(layout.question_file)[: config.first_n]]
    published = _published_items(config, qids)
    judge_config = JudgeConfig(
        layout=layout, judge_model=config.judge_model, model_list=config.models, first_n=config.first_n,
        parallel=config.parallel, endpoint=config.endpoint, price_input=config.price_input,
        price_output=config.price_output, max_cost=config.max_cost, progress=config.progress,
        output_file=config.output,
    )
    summary = judge(judge_config, dry_run=dry_run, announce=announce)
    if dry_run:
        return None
    if summary is not None:
        announce(summary.describe())
    judged = _valid(load_single_judgments(config.output)) if config.output.is_file() else {}
    judged = {i: s for i, s in judged.items() if i in published}
    return compare_scores(published, judged, judge_model=config.judge_model, published_file=config.published)
