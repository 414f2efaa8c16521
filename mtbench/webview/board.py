"""The leaderboard both pages draw: ``show``'s tables for one judge and mode, its radar chart, and how
many of the bench's questions each row stands on, so partial runs are marked.

A model judged on 6 questions and one judged on 80 get a score each; the leaderboard says which is which.
A question counts for a model when at least one of its judgments did not fail (single), or when at
least one match of it was decided (pairwise; against the baseline in pairwise-baseline mode).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.bench import BenchLayout, Mode
from mtbench.webview.bench_view import BenchView


def judge_report(
    layout: BenchLayout,
    judgment_file: Path,
    judge: str,
    mode: Mode | str,
    *,
    baseline: str | None = None,
    model_list: tuple[str, ...] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Any:
    """``show``'s report (``show_result.ShowReport``) of one judge's file, with the bench's question file."""
    from mtbench.show_result import ShowConfig, show

    mode = Mode.parse(mode)
    return show(
        ShowConfig(
            judgment_file=judgment_file,
            mode=mode.value,
            question_file=layout.question_file,
            judge_model=judge,
            baseline_model=baseline if mode is Mode.PAIRWISE_BASELINE else None,
            model_list=model_list,
            n_bootstrap=n_bootstrap,
            seed=seed,
            mt_bench_fallback=layout.bench_name == "mt_bench",
        )
    )


def radar_png(report: Any, judge: str) -> bytes | None:
    """The per-category radar chart of a single-mode report as PNG bytes; None without categories."""
    from mtbench.show_result import radar_figure

    if report.single is None or report.single.by_category is None:
        return None
    buf = io.BytesIO()
    radar_figure(report.single.by_category, title=f"MT-bench score by category (judge {judge})").savefig(
        buf, format="png", bbox_inches="tight"
    )
    return buf.getvalue()


@dataclass(frozen=True)
class Coverage:
    questions: Mapping[str, int]  # model -> questions it has a valid judgment on
    total: int  # questions in the bench's question file

    def of(self, model: str) -> int:
        return self.questions.get(model, 0)

    def partial(self, model: str) -> bool:
        return self.of(model) < self.total

    def note(self, models: Iterable[str]) -> str | None:
        """One line for the leaderboard's notes when some of ``models`` are partial, else None."""
        partial = [m for m in models if self.partial(m)]
        if not partial:
            return None
        return (
            f"{len(partial)} model(s) judged on fewer than all {self.total} questions (marked partial): "
            f"{', '.join(f'{m} ({self.of(m)})' for m in partial)}; their scores are not comparable with "
            "full runs"
        )


def question_coverage(view: BenchView, judge: str, mode: Mode | str, baseline: str | None = None) -> Coverage:
    """Per model, the number of questions the judge's ``mode`` judgments cover (see the module docstring)."""
    covered: dict[str, set[int]] = {}
    if Mode.parse(mode).pairwise:
        for m in view.pair.get(judge, ()):
            if m.failed or (baseline is not None and baseline not in (m.model_1, m.model_2)):
                continue
            for model in (m.model_1, m.model_2):
                covered.setdefault(model, set()).add(m.question_id)
    else:
        for j in view.single.get(judge, {}).values():
            if not j.failed:
                covered.setdefault(j.model, set()).add(j.question_id)
    return Coverage({m: len(q) for m, q in covered.items()}, len(view.questions))
