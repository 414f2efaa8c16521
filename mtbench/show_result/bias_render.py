"""A bias report as strings: a terminal table, Markdown, CSV (one row per scope and statistic) or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

from mtbench.core.bench import FORMATS
from mtbench.core.errors import UserError
from mtbench.show_result.bias import Rate, reading
from mtbench.show_result.bias_command import BiasReport
from mtbench.show_result.style import LENGTH_UNIT

# The stable JSON keys, in the order the tables list them (absent where the mode has no such statistic).
KEYS = (
    "first_position_win_rate", "first_position_win_rate_game_1", "first_position_win_rate_game_2",
    "swap_flip_rate", "tie_rate", "longer_wins_rate", "more_markdown_wins_rate", "score_length_spearman",
    "score_length_spearman_within_question", "points_per_length_doubling", "self_preference",
)


def _ordered(stats: dict[str, Rate] | Any) -> list[tuple[str, Rate]]:
    return [(k, stats[k]) for k in KEYS if k in stats]


def render_bias(report: BiasReport, fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "json":
        return json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["scope", "statistic", "value", "ci_low", "ci_high", "n"])
        scopes = [("all", report.overall), *report.models.items()]
        for scope, stats in scopes:
            for key, r in _ordered(stats):
                writer.writerow([scope, key, _g(r.value), _g(r.ci[0]), _g(r.ci[1]), r.n])
        return out.getvalue()
    return _text(report, markdown=fmt == "markdown")


def _g(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6g}"


def _jsonable(report: BiasReport) -> dict[str, Any]:
    c = report.config
    out: dict[str, Any] = {
        "kind": report.kind,
        "judgment_file": os.fspath(c.judgment_file),
        "judges": list(report.judges),
        "length_unit": report.length_unit,
        "bootstrap": {"n": c.n_bootstrap, "seed": c.seed, "confidence": c.confidence, "unit": "question"},
    }
    for key, r in _ordered(report.overall):
        out[key] = r.to_json()
    out["readings"] = {key: reading(key, r) for key, r in _ordered(report.overall)}
    out["models"] = {m: {key: r.to_json() for key, r in _ordered(stats)} for m, stats in report.models.items()}
    if report.quartiles:
        out["score_by_length_quartile"] = [q.to_json() for q in report.quartiles]
    if c.self_models:
        out["self"] = list(c.self_models)
        out["reference_judgment_file"] = os.fspath(c.reference_file) if c.reference_file else None
    out["notes"] = list(report.notes)
    return out


def _value(key: str, x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:.1%}" if "_rate" in key else f"{x:+.3f}"


def _ci(key: str, r: Rate) -> str:
    if any(math.isnan(v) for v in r.ci):
        return "-"
    return f"[{_value(key, r.ci[0])}, {_value(key, r.ci[1])}]"


def _grid(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        def esc(cell: str) -> str:
            return cell.replace("|", "\\|")

        lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] * len(header)) + "|"]
        return "\n".join(lines + ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [header, ["-" * w for w in widths], *rows]
    )


def _text(report: BiasReport, markdown: bool) -> str:
    c = report.config
    pct = f"{c.confidence:.0%}"
    judges = ", ".join(report.judges) or c.judge_model
    what = "pairwise" if report.kind == "pair" else "single-answer grading"
    parts: list[str] = []

    def heading(text: str) -> None:
        parts.append(("## " if markdown else "") + text)

    heading(f"Judge bias ({what}; judge {judges}; {c.judgment_file})")
    rows = [[key, _value(key, r.value), _ci(key, r), str(r.n), reading(key, r)] for key, r in _ordered(report.overall)]
    parts.append(_grid(["statistic", "value", f"{pct} CI", "n", "reading"], rows, markdown))
    if report.quartiles:
        parts.append("")
        heading("Mean score by answer-length quartile (all models pooled)")
        rows = [[str(q.quartile), f"{q.length_low}-{q.length_high}", f"{q.mean_score.value:.2f}",
                 "-" if math.isnan(q.mean_score.ci[0]) else f"[{q.mean_score.ci[0]:.2f}, {q.mean_score.ci[1]:.2f}]",
                 str(q.mean_score.n)] for q in report.quartiles]
        parts.append(_grid(["quartile", f"length ({LENGTH_UNIT})", "mean score", f"{pct} CI", "answers"], rows, markdown))
    if report.models:
        parts.append("")
        heading("Per model (value and CI)")
        keys = [k for k in KEYS if any(k in s for s in report.models.values())]
        rows = [[m] + [f"{_value(k, s[k].value)} {_ci(k, s[k])}" if k in s else "-" for k in keys]
                for m, s in report.models.items()]
        parts.append(_grid(["model", *keys], rows, markdown))
    notes = list(report.notes) + [
        f"length counted in {LENGTH_UNIT} of the judged turn's answer; markdown = header lines + list items + bold spans",
    ]
    if c.n_bootstrap:
        notes.append(f"CIs: {pct} percentile bootstrap over questions, {c.n_bootstrap} resamples, seed {c.seed}")
    parts.append("")
    parts.extend(f"- {n}" if markdown else f"note: {n}" for n in notes)
    return "\n".join(parts) + "\n"
