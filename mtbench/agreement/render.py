"""The agreement table as text: aligned, Markdown, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from mtbench.agreement.command import AgreementReport
from mtbench.agreement.stats import AgreementRow
from mtbench.core.bench import FORMATS
from mtbench.core.errors import UserError

COLUMNS = ("comparison", "turn", "setup", "total", "agree", "ratio", "kappa")


def _cells(row: AgreementRow) -> list[str]:
    return [
        row.comparison,
        row.turn,
        "with tie" if row.ties else "without tie",
        str(row.total),
        str(row.agree),
        "-" if row.ratio is None else f"{row.ratio:.3f}",
        "-" if row.kappa is None else f"{row.kappa:.3f}",
    ]


def render(report: AgreementReport, fmt: str = "table") -> str:
    """The agreement table as text: an aligned table, markdown, CSV or JSON (only JSON carries the notes)."""
    if fmt == "json":
        return json.dumps({"rows": [asdict(r) for r in report.rows], "notes": list(report.notes)}, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in report.rows:
            writer.writerow([r.comparison, r.turn, "with tie" if r.ties else "without tie", r.total, r.agree,
                             "" if r.ratio is None else repr(r.ratio), "" if r.kappa is None else repr(r.kappa)])
        return buf.getvalue()
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    rows = [_cells(r) for r in report.rows]
    header = list(COLUMNS)
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    numeric = {3, 4, 5, 6}

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |" if fmt == "markdown" else "  ".join(padded).rstrip()

    out = [line(header)]
    if fmt == "markdown":
        out.append("|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                                  for i, w in enumerate(widths)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in rows)
    return "\n".join(out) + "\n"
