"""A show report as strings: an aligned terminal table, Markdown, CSV (one row per model) or JSON."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from mtbench.core.bench import FORMATS
from mtbench.core.errors import UserError
from mtbench.show_result.command import ShowReport
from mtbench.show_result.coverage import PARTIAL_MARK
from mtbench.show_result.forced import forced_cells, forced_header


def render(report: ShowReport, fmt: str = "table") -> str:
    """The report as a terminal table, Markdown, CSV (one row per model) or JSON."""
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "json":
        return json.dumps(_jury_json(report) if report.jury else _to_jsonable(report), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return flat_table(report).to_csv(float_format="%.6g")
    if report.jury is not None:
        return _render_jury(report, markdown=fmt == "markdown")
    return _render_text(report, markdown=fmt == "markdown")


def flat_table(report: ShowReport) -> pd.DataFrame:
    """One row per model: the main table, plus (single mode) one column per category."""
    if report.jury is not None:
        return report.jury.table
    if report.single is not None:
        flat = report.single.scores
        if report.single.by_category is not None:
            flat = flat.join(report.single.by_category.T)
        return flat
    assert report.pairwise is not None
    return report.pairwise.table


def _num(x: Any) -> Any:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    return x


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # to_dict keeps each column's own type (iterrows would turn the counts into floats).
    rows = [{k: _num(v) for k, v in row.items()} for row in df.reset_index().to_dict(orient="records")]
    for row in rows:
        if "controlled_ci_low" in row:  # --control: the stable key is one [low, high] pair
            low, high = row.pop("controlled_ci_low"), row.pop("controlled_ci_high")
            row["controlled_ci"] = None if low is None or high is None else [low, high]
    return rows


def _controlled_cells(row: Any, column: str, digits: int) -> list[str]:
    if not hasattr(row, column):
        return []
    return [_fmt(getattr(row, column), digits), _ci(row.controlled_ci_low, row.controlled_ci_high, digits)]


def _controlled_header(df: pd.DataFrame, column: str, pct: str) -> list[str]:
    if column not in df.columns:
        return []
    return (["BT win_rate"] if "bt_win_rate" in df.columns else []) + ["controlled", f"{pct} CI"]


def _to_jsonable(report: ShowReport) -> dict[str, Any]:
    c = report.config
    out: dict[str, Any] = {
        "mode": c.mode,
        "judgment_file": os.fspath(c.judgments),
        "bootstrap": {"n": c.n_bootstrap, "seed": c.seed, "confidence": c.confidence},
        "judges": list(report.judges),
        "bench_questions": report.bench_questions,
    }
    if report.single is not None:
        s = report.single
        out["models"] = _records(s.scores)
        out["by_category"] = None if s.by_category is None else {
            cat: {m: _num(v) for m, v in row.items()} for cat, row in s.by_category.iterrows()
        }
        out["category_source"] = report.category_source
        out["duplicates_dropped"] = s.duplicates_dropped
        out["failed"] = s.failed
        out["failure_reasons"] = dict(s.failure_reasons)
        out["samples"] = s.samples
        out["aggregate"] = s.aggregate
    if report.pairwise is not None:
        p = report.pairwise
        out["baseline"] = p.baseline
        out["models"] = _records(p.table)
        out["matches"] = p.matches
        out["errors"] = p.errors
        out["consistency"] = _num(p.consistency)
        out["samples"] = p.samples
        out["sample_agreement"] = _num(p.sample_agreement)
        out["duplicates_dropped"] = p.duplicates_dropped
    if report.comparison is not None:
        cmp = report.comparison
        out["comparison"] = {
            "model_a": cmp.model_a, "model_b": cmp.model_b, "mean_a": _num(cmp.mean_a), "mean_b": _num(cmp.mean_b),
            "difference": _num(cmp.difference), "ci_low": _num(cmp.ci_low), "ci_high": _num(cmp.ci_high),
            "n_questions": cmp.n_questions, "n_items": cmp.n_items, "significant": cmp.significant,
            "samples": cmp.samples, "in_words": cmp.in_words(),
        }
    if report.provenance is not None:
        prov = report.provenance
        out["provenance"] = {
            "judges": dict(prov.judges), "fingerprints": dict(prov.fingerprints),
            "prompt_files": dict(prov.prompt_files), "references": dict(prov.references),
            "versions": dict(prov.versions), "unknown": prov.unknown,
        }
    if report.turns_cut_while_reasoning is not None:
        out["turns_cut_while_reasoning"] = dict(report.turns_cut_while_reasoning)
    out["notes"] = list(report.notes)
    out["warning"] = report.warning
    return out


def _fmt(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, (float, np.floating)) and math.isnan(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}f}"


def _ci(low: float, high: float, digits: int) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _grid(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _questions(n: Any, partial: Any, markdown: bool) -> str:
    if not partial:
        return _fmt(n, 0)
    return _fmt(n, 0) + ("\\" + PARTIAL_MARK if markdown else PARTIAL_MARK)  # a bare * is emphasis in Markdown


def _noise_cells(row: Any, samples: int) -> list[str]:
    if samples <= 1:
        return []
    spread = "-" if math.isnan(row.noise_min) else f"{row.noise_min:.2f}-{row.noise_max:.2f}"
    return [_fmt(row.samples, 0), _fmt(row.noise_sd, 3), spread, _ci(row.ci2_low, row.ci2_high, 2)]


def _render_text(report: ShowReport, markdown: bool) -> str:
    c = report.config
    judges = ", ".join(report.judges) or c.judge_model
    pct = f"{c.confidence:.0%}"
    parts: list[str] = []
    notes_extra: list[str] = []

    if report.warning:  # above every table: the numbers below rest on a few matches
        parts.extend([f"**{report.warning}**" if markdown else report.warning, ""])

    def heading(text: str) -> None:
        parts.append(f"## {text}" if markdown else text)

    def provenance_line() -> None:
        if report.provenance is not None:
            parts.extend(["", report.provenance.describe()] if markdown else [report.provenance.describe()])

    if report.single is not None:
        s = report.single
        heading(f"Single-answer grading (judge {judges}; {c.judgments})")
        rows = [
            [str(m), _fmt(r.first_turn, 2), _fmt(r.second_turn, 2), _fmt(r.overall, 2),
             _ci(r.ci_low, r.ci_high, 2), *_noise_cells(r, s.samples),
             *_controlled_cells(r, "controlled_score", 2),
             _questions(r.n_questions, r.partial, markdown), _fmt(r.n_valid, 0), _fmt(r.n_failed, 0),
             *forced_cells(r)]
            for m, r in s.scores.iterrows()
        ]
        noise = ["samples", "noise sd", "noise range", f"{pct} CI +noise"] if s.samples > 1 else []
        header = ["model", "turn 1", "turn 2", "score", f"{pct} CI", *noise,
                  *_controlled_header(s.scores, "controlled_score", pct), "questions", "valid", "failed",
                  *forced_header(s.scores)]
        parts.append(_grid(header, rows, markdown))
        provenance_line()
        if s.samples > 1:
            notes_extra.append(
                f"judge noise: each match judged up to {s.samples} times, its {s.aggregate} counted; noise sd and "
                "range: the model's score in each sample; CI +noise: bootstrap over questions and, within each, "
                "samples"
            )
        if s.by_category is not None:
            parts.append("")
            heading(f"Score by category (both turns; categories from {report.category_source})")
            cats = [str(x) for x in s.by_category.index]
            t = s.by_category.T
            rows = [[str(m)] + [_fmt(v, 2) for v in t.loc[m]] for m in t.index]
            parts.append(_grid(["model", *cats], rows, markdown))
    if report.pairwise is not None:
        p = report.pairwise
        what = f"against {p.baseline}" if p.baseline else "all pairs"
        heading(f"Pairwise ({what}; judge {judges}; {c.judgments})")
        rows = [
            [str(m), _fmt(r.win, 0), _fmt(r.loss, 0), _fmt(r.tie, 0), _fmt(r.n_error, 0),
             _fmt(r.win_rate, 3), _ci(r.win_rate_ci_low, r.win_rate_ci_high, 3), _fmt(r.loss_rate, 3),
             _fmt(r.win_rate_adjusted, 3), _ci(r.adjusted_ci_low, r.adjusted_ci_high, 3),
             *([_fmt(r.bt_win_rate, 3)] if hasattr(r, "bt_win_rate") else []),
             *_controlled_cells(r, "controlled_win_rate", 3), _fmt(r.consistency, 3),
             _questions(r.n_questions, r.partial, markdown), *forced_cells(r)]
            for m, r in p.table.iterrows()
        ]
        header = ["model", "win", "loss", "tie", "error", "win_rate", f"{pct} CI", "loss_rate",
                  "win_rate_adjusted", f"{pct} CI", *_controlled_header(p.table, "controlled_win_rate", pct),
                  "consistent", "questions", *forced_header(p.table)]
        parts.append(_grid(header, rows, markdown))
        provenance_line()
        parts.append("")
        parts.append(
            f"Position consistency: {_fmt(p.consistency, 3)} of {p.matches} matches had both games agree "
            "(disagreements count as ties)."
        )
        if p.samples > 1:
            parts.append(
                f"Between samples: {_fmt(p.sample_agreement, 3)} of the sample pairs of a match agree on its outcome "
                f"(up to {p.samples} samples per match; a match counts its samples' majority)."
            )
    if report.comparison is not None:
        cmp = report.comparison
        parts.append("")
        heading(f"Paired comparison: {cmp.model_a} - {cmp.model_b}")
        verdict = "the interval excludes 0" if cmp.significant else "the interval includes 0: not a clear difference"
        parts.append(
            f"{cmp.model_a} {cmp.mean_a:.2f} vs {cmp.model_b} {cmp.mean_b:.2f} on {cmp.n_items} (question, turn) items "
            f"of {cmp.n_questions} questions both have: difference {cmp.difference:+.2f}, {pct} CI "
            f"{_ci(cmp.ci_low, cmp.ci_high, 2)} ({verdict})."
        )
        parts.append(cmp.in_words() + ".")
    n_boot = report.single.n_bootstrap if report.single is not None else report.pairwise.n_bootstrap  # type: ignore[union-attr]
    notes = list(report.notes) + notes_extra
    if n_boot:
        notes.append(f"CIs: {pct} percentile bootstrap over questions, {n_boot} resamples, seed {c.seed}")
    if notes:
        parts.append("")
        parts.extend(f"- {n}" if markdown else f"note: {n}" for n in notes)
    return "\n".join(parts) + "\n"


def jury_agreement_lines(report: ShowReport) -> list[str]:
    """The jury's agreement in words: alpha or kappa, the effective number of judges, each pair's Spearman."""
    assert report.jury is not None
    a = report.jury.agreement
    what = ("Krippendorff's alpha (ordinal) over the scores" if a.statistic == "krippendorff_alpha_ordinal"
            else "Fleiss' kappa over the verdicts")
    lines = [f"agreement: {what}: {_fmt(a.value, 3)} ({a.units} matches with two or more judges)",
             f"effective number of independent judges: {_fmt(a.effective_judges, 2)} of {len(report.jury.judges)} "
             f"(from the correlations of the {a.varying_judges} judge(s) whose values vary)"]
    lines += [f"model rankings, Spearman: {x} vs {y}: {_fmt(rho, 3)}" for (x, y), rho in a.spearman.items()]
    return lines


def jury_grid(report: ShowReport, markdown: bool = False) -> tuple[str, list[str], list[list[str]]]:
    """The jury's table as show prints it: its heading, header and rows of cells (``report`` reuses them)."""
    j = report.jury
    assert j is not None
    pct = f"{report.config.confidence:.0%}"
    judges = [col for col in j.table.columns if str(col).startswith("judge:")]
    if j.pairwise:
        title = "Pairwise, a jury's majority verdicts (a split is a tie)"
        header = ["model", "win", "loss", "tie", "win_rate_adjusted", f"{pct} CI"]
        rows = [[str(m), _fmt(r.win, 0), _fmt(r.loss, 0), _fmt(r.tie, 0), _fmt(r.win_rate_adjusted, 3),
                 _ci(r.ci_low, r.ci_high, 3)] for m, r in j.table.iterrows()]
        digits = 3
    else:
        title = "Single-answer grading, a jury's mean score"
        header = ["model", "jury score", f"{pct} CI"]
        rows = [[str(m), _fmt(r.score, 2), _ci(r.ci_low, r.ci_high, 2)] for m, r in j.table.iterrows()]
        digits = 2
    for row, (_, r) in zip(rows, j.table.iterrows(), strict=True):
        row += [_fmt(r[col], digits) for col in judges]
        row += [_questions(r.n_questions, r.partial, markdown), _fmt(r.judge_failed, 0)]
    header += [str(col) for col in judges] + ["questions", "judge_failed"]
    return f"{title} ({len(j.judges)} judges: {', '.join(j.judges)})", header, rows


def jury_notes(report: ShowReport) -> list[str]:
    """show's notes on a jury's table, and how its CIs were drawn."""
    j = report.jury
    assert j is not None
    notes = list(report.notes)
    if j.n_bootstrap:
        notes.append(f"CIs: {report.config.confidence:.0%} percentile bootstrap over questions and judges together, "
                     f"{j.n_bootstrap} resamples, seed {report.config.seed}")
    return notes


def _render_jury(report: ShowReport, markdown: bool) -> str:
    heading, header, rows = jury_grid(report, markdown)
    parts = [f"## {heading}" if markdown else heading, _grid(header, rows, markdown), ""]
    parts += [f"- {line}" if markdown else line for line in jury_agreement_lines(report)]
    notes = jury_notes(report)
    if notes:
        parts.append("")
        parts.extend(f"- {n}" if markdown else f"note: {n}" for n in notes)
    return "\n".join(parts) + "\n"


def _jury_json(report: ShowReport) -> dict[str, Any]:
    j = report.jury
    assert j is not None
    a = j.agreement
    return {
        "mode": report.config.mode, "judges": list(j.judges), "pairwise": j.pairwise, "matches": j.matches,
        "models": _records(j.table),
        "agreement": {a.statistic: _num(a.value), "units": a.units, "effective_judges": _num(a.effective_judges),
                      "varying_judges": a.varying_judges,
                      "spearman": [{"a": x, "b": y, "rho": _num(rho)} for (x, y), rho in a.spearman.items()]},
        "judge_failed": dict(j.judge_failed),
        "bootstrap": {"n": j.n_bootstrap, "seed": j.seed, "confidence": j.confidence},
        "notes": list(report.notes),
    }
