"""The leaderboard both pages draw: ``show``'s report for one judge and mode (its rows say how many
questions each covers, ``n_questions``, and mark ``partial`` ones), and its radar chart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mtbench.core.bench import BenchLayout, Mode


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
    control: str | None = None,
) -> Any:
    """``show``'s report (``show_result.ShowReport``) of one judge's file, with the bench's question file."""
    from mtbench.show_result import ShowConfig, show

    mode = Mode.parse(mode)
    return show(
        ShowConfig(
            layout=layout,
            judgment_file=judgment_file,
            mode=mode.value,
            judge_model=judge,
            baseline_model=baseline if mode is Mode.PAIRWISE_BASELINE else None,
            model_list=model_list,
            n_bootstrap=n_bootstrap,
            seed=seed,
            control=control,
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
