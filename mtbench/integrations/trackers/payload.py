"""What a tracker logs from one result: metrics, tables, the radar image, the judgment file, the provenance.

Built once from a ``ShowReport`` (pure but for rendering the radar chart to PNG bytes), so every tracker
logs the same things under the same names. Nothing here reads the environment: an API key has no way in.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mtbench import __version__

# The table columns that become metrics, per mode (counts and flags stay in the tables).
SINGLE_METRICS = ("overall", "first_turn", "second_turn", "ci_low", "ci_high", "controlled_score")
PAIR_METRICS = ("win_rate", "win_rate_adjusted", "loss_rate", "win_rate_ci_low", "win_rate_ci_high",
                "controlled_win_rate", "bt_win_rate")
# Every tracker accepts these characters in a key (MLflow is the strictest: no ':' or '@', for one).
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def metric_key(*parts: str) -> str:
    return "/".join(_UNSAFE.sub("_", p) for p in parts)


@dataclass(frozen=True)
class TrackedRun:
    """One result as every tracker logs it."""

    name: str
    metrics: Mapping[str, float]
    tables: Mapping[str, pd.DataFrame]  # name -> rows, a column per field (index reset)
    params: Mapping[str, str]  # config/params: the provenance and what the numbers were computed with
    radar_png: bytes | None = None  # the per-category radar chart (single mode with categories)
    judgment_file: Path | None = None  # logged as an artifact
    summary: Mapping[str, Any] = field(default_factory=dict)  # the show report's JSON form


def _joined(counts: Mapping[str, int]) -> str:
    return ", ".join(sorted(counts)) or "unknown"


def provenance_params(report: Any) -> dict[str, str]:
    """The config/params every tracker records: judge, prompt and reference hashes, mtbench version, mode."""
    c = report.config
    params = {
        "mode": c.mode,
        "bench": c.layout.bench_name,
        "judge": ", ".join(report.judges) or c.judge_model,
        "judgment_file": str(c.judgments),
        "bootstrap": str(c.n_bootstrap),
        "bootstrap_seed": str(c.seed),
        "mtbench_version": __version__,
    }
    if c.mode == "pairwise-baseline" and c.baseline_model:
        params["baseline"] = c.baseline_model
    p = report.provenance
    if p is not None:
        params["judge_reported_model"] = _joined(p.judges)
        params["judge_prompt_sha256"] = _joined(p.prompt_files)
        params["reference"] = _joined(p.references) if p.references else "none recorded"
        params["judgments_mtbench_version"] = _joined(p.versions)
        if p.fingerprints:
            params["system_fingerprint"] = _joined(p.fingerprints)
        params["judgments_without_provenance"] = str(p.unknown)
    return params


def _metrics(table: pd.DataFrame, columns: tuple[str, ...], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for model, row in table.iterrows():
        for column in columns:
            if column in row.index:
                value = float(row[column])
                if math.isfinite(value):
                    out[metric_key(prefix + column, str(model))] = value
    return out


def _png(by_category: pd.DataFrame) -> bytes | None:
    from mtbench.show_result import radar_figure

    if by_category.empty:
        return None
    buffer = io.BytesIO()
    radar_figure(by_category).savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def default_name(report: Any) -> str:
    c = report.config
    return f"mtbench {c.layout.bench_name} {c.mode} {', '.join(report.judges) or c.judge_model}"


def tracked_run(report: Any, name: str | None = None) -> TrackedRun:
    """``report`` (a ``ShowReport``) as the metrics, tables, image, artifact and params a tracker logs.

    Metrics are keyed ``COLUMN/MODEL`` (``overall/gpt-4``), per category ``category/CATEGORY/MODEL``.
    """
    from mtbench.show_result.render import _to_jsonable

    tables: dict[str, pd.DataFrame] = {}
    radar = None
    if report.single is not None:
        s = report.single
        metrics = _metrics(s.scores, SINGLE_METRICS)
        tables["scores"] = s.scores.reset_index()
        if s.by_category is not None:
            tables["by_category"] = s.by_category.reset_index()
            for category, row in s.by_category.iterrows():
                for model, value in row.items():
                    if math.isfinite(float(value)):
                        metrics[metric_key("category", str(category), str(model))] = float(value)
            radar = _png(s.by_category)
    else:
        metrics = _metrics(report.pairwise.table, PAIR_METRICS)
        tables["win_rates"] = report.pairwise.table.reset_index()
    return TrackedRun(
        name=name or default_name(report), metrics=metrics, tables=tables, params=provenance_params(report),
        radar_png=radar, judgment_file=report.config.judgments, summary=_to_jsonable(report),
    )
