"""The report's HTML: show's report and the bench view -> the templates' data -> one self-contained page.

Pure (no files read but the package's templates). The templates (``templates/*.html.j2``) render with
autoescape on, so every name, path and note is escaped where it lands; model and judge text arrives as
markdown-it's rendering with raw HTML off (``markup``). The stylesheet is inlined and allowed by its hash
in the page's Content-Security-Policy, which forbids everything else: no script, no request.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from mtbench import __version__
from mtbench.show_result.coverage import PARTIAL_MARK
from mtbench.show_result.forced import forced_cells, forced_header
from mtbench.webview.bench_view import BenchView, preview, sample_spread

CSS_TEMPLATE = "report.css"


@cache
def environment() -> Environment:
    """The templates' environment: autoescape on for every template, an unknown name an error."""
    env = Environment(
        loader=PackageLoader("mtbench.webview", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def content_security_policy(css: str) -> str:
    """Nothing but the inline stylesheet (by its hash) and ``data:`` images: no script, no network."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"


def render_report(
    view: BenchView,
    report: Any,
    judge: str,
    radar: bytes | None,
    *,
    drilldown: bool = True,
) -> str:
    """The whole page. ``report`` is ``show_result.ShowReport``; ``radar`` the radar chart's PNG bytes."""
    env = environment()
    assert env.loader is not None
    css = env.loader.get_source(env, CSS_TEMPLATE)[0]
    title = f"MT-bench report: {view.layout.bench_name}, judge {judge}, {report.config.mode}"
    tables = _tables(report)
    notes = list(report.notes)  # show's, the one on partial rows included
    n_boot = report.single.n_bootstrap if report.single is not None else report.pairwise.n_bootstrap
    if n_boot:
        notes.append(
            f"CIs: {report.config.confidence:.0%} percentile bootstrap over questions, {n_boot} resamples, "
            f"seed {report.config.seed}"
        )
    pairwise = report.pairwise
    return env.get_template("report.html.j2").render(
        csp=content_security_policy(css),
        css=css,
        title=title,
        judgment_file=os.fspath(report.config.judgments),
        version=__version__,
        stamp=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        tables=tables,
        consistency=None if pairwise is None else {"share": _num(pairwise.consistency, 3), "matches": pairwise.matches},
        radar=None if radar is None else base64.b64encode(radar).decode("ascii"),
        notes=notes,
        warning=report.warning,
        agreement=None,
        questions=_questions(view, report, judge) if drilldown else None,
    )


def render_jury_report(layout: Any, report: Any) -> str:
    """A jury's page: show's jury table (``show_result.render.jury_grid``), its agreement and notes.
    ``report`` is ``show_result.ShowReport`` with ``jury`` set; ``layout`` names the judges' files."""
    from mtbench.show_result.render import jury_agreement_lines, jury_grid, jury_notes

    env = environment()
    assert env.loader is not None
    css = env.loader.get_source(env, CSS_TEMPLATE)[0]
    jury = report.jury
    title = f"MT-bench report: {layout.bench_name}, jury {', '.join(jury.judges)}, {report.config.mode}"
    heading, header, rows = jury_grid(report)
    partial = [bool(p) for p in jury.table["partial"]]
    table = {"heading": heading, "id": "jury", "header": header,
             "rows": [{"cells": cells, "partial": p} for cells, p in zip(rows, partial, strict=True)]}
    files = ", ".join(os.fspath(layout.judgment_file(name, report.config.mode)) for name in jury.judges)
    notes = [*jury_notes(report), "no radar chart and no per-question drill-down for a jury: each is one "
             "judge's (`mtbench report --judge-model JUDGE` gives them)"]
    return env.get_template("report.html.j2").render(
        csp=content_security_policy(css), css=css, title=title, judgment_file=files, version=__version__,
        stamp=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), tables=[table], consistency=None,
        radar=None, notes=notes, warning=report.warning, agreement=jury_agreement_lines(report), questions=None,
    )


# ---------------------------------------------------------------------------------------------------
# the leaderboard


def _num(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, int) or (hasattr(x, "is_integer") and digits == 0):
        return str(int(x))
    return f"{float(x):.{digits}f}"


def _ci(low: Any, high: Any, digits: int) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _controlled_cells(r: Any, column: str, digits: int) -> list[str]:
    """--control's columns (BT's uncontrolled rate first where the fit has one), where the report has them."""
    if not hasattr(r, column):
        return []
    bt = [_num(r.bt_win_rate, digits)] if hasattr(r, "bt_win_rate") else []
    return [*bt, _num(getattr(r, column), digits), _ci(r.controlled_ci_low, r.controlled_ci_high, digits)]


def _controlled_header(table: Any, column: str, pct: str) -> list[str]:
    if column not in table.columns:
        return []
    return [*(["BT win rate"] if "bt_win_rate" in table.columns else []), "controlled", pct]


def _row(model: Any, cells: list[str], r: Any) -> dict[str, Any]:
    """A leaderboard row, ending with the questions it covers: show's ``n_questions``, marked as show marks
    a ``partial`` row (its note says what the mark means)."""
    covered = f"{int(r.n_questions)}" + (PARTIAL_MARK if r.partial else "")
    return {"cells": [str(model), *cells, covered], "partial": bool(r.partial)}


def _questions_header(report: Any) -> str:
    return "questions" + (f" (of {report.bench_questions})" if report.bench_questions else "")


def _noise_cells(r: Any) -> list[str]:
    """show's judge-noise columns: samples, the sd and range of the per-sample scores, the two-level CI."""
    low, high = r.noise_min, r.noise_max
    spread = "-" if low is None or math.isnan(low) else f"{low:.2f}-{high:.2f}"
    return [_num(int(r.samples), 0), _num(r.noise_sd, 3), spread, _ci(r.ci2_low, r.ci2_high, 2)]


def _tables(report: Any) -> list[dict[str, Any]]:
    """The leaderboard's tables."""
    pct = f"{report.config.confidence:.0%} CI"
    if report.single is not None:
        s = report.single
        noisy = getattr(s, "samples", 1) > 1
        rows = [
            _row(
                m,
                [_num(r.first_turn, 2), _num(r.second_turn, 2), _num(r.overall, 2), _ci(r.ci_low, r.ci_high, 2),
                 *(_noise_cells(r) if noisy else []), *_controlled_cells(r, "controlled_score", 2),
                 _num(int(r.n_valid), 0), _num(int(r.n_failed), 0), *forced_cells(r)],
                r,
            )
            for m, r in s.scores.iterrows()
        ]
        noise = ["samples", "noise sd", "noise range", f"{pct} +noise"] if noisy else []
        header = ["model", "turn 1", "turn 2", "score", pct, *noise,
                  *_controlled_header(s.scores, "controlled_score", pct), "valid", "failed",
                  *forced_header(s.scores), _questions_header(report)]
        tables = [{"heading": "Leaderboard", "id": "scores", "header": header, "rows": rows}]
        if s.by_category is not None:
            by_cat = [
                {"cells": [str(cat)] + [_num(v, 2) for v in row], "partial": False}
                for cat, row in s.by_category.iterrows()
            ]
            header = ["category", *(str(m) for m in s.by_category.columns)]
            tables.append({"heading": "Score by category", "id": "by-category", "header": header, "rows": by_cat})
        return tables
    p = report.pairwise
    rows = [
        _row(
            m,
            [_num(int(r.win), 0), _num(int(r.loss), 0), _num(int(r.tie), 0), _num(int(r.n_error), 0),
             _num(r.win_rate, 3), _ci(r.win_rate_ci_low, r.win_rate_ci_high, 3), _num(r.win_rate_adjusted, 3),
             _ci(r.adjusted_ci_low, r.adjusted_ci_high, 3), *_controlled_cells(r, "controlled_win_rate", 3),
             _num(r.consistency, 3), *forced_cells(r)],
            r,
        )
        for m, r in p.table.iterrows()
    ]
    header = ["model", "win", "loss", "tie", "error", "win rate", pct, "adjusted win rate", pct,
              *_controlled_header(p.table, "controlled_win_rate", pct), "consistent", *forced_header(p.table),
              _questions_header(report)]
    what = f"against {p.baseline}" if p.baseline else "all pairs"
    heading = f"Leaderboard (pairwise, {what})"
    return [{"heading": heading, "id": "scores", "header": header, "rows": rows}]


# ---------------------------------------------------------------------------------------------------
# the drill-down


def _summary_scores(view: BenchView, judge: str, qid: int, models: Sequence[str]) -> str:
    by_key = view.single.get(judge, {})
    bits = []
    for m in models:
        answer = view.answers.get(m, {}).get(qid)
        if answer is None or answer.failed:
            bits.append(f"{m} {'no answer' if answer is None else 'answer failed'}")
            continue
        cells = []
        for turn in (1, 2):
            j = by_key.get((qid, m, turn))
            scores = view.sample_scores(judge, qid, m, turn)
            if len(scores) > 1:
                cells.append(sample_spread(scores))
            else:
                cells.append("-" if j is None else ("failed" if j.failed else _num(j.score, 0)))
        bits.append(f"{m} {'/'.join(cells)}")
    return "; ".join(bits)


def _summary_verdicts(view: BenchView, judge: str, qid: int, pairs: Sequence[tuple[str, str]]) -> str:
    bits = []
    for a, b in pairs:
        cells = []
        for m in view.pair_matches(qid, a, b, judge):
            if m["status"] != "judged":
                cells.append(m["status"])
            else:
                cells.append(m["verdict"] + (" (inconsistent)" if m["inconsistent"] else ""))
        bits.append(f"{a} vs {b}: {' / '.join(cells)}")
    return "; ".join(bits)


def _questions(view: BenchView, report: Any, judge: str) -> list[dict[str, Any]]:
    """Per category, each question with the report's models' answers and the judge's verdicts."""
    single = report.single is not None
    if single:
        models = [str(m) for m in report.single.scores.index]
    else:
        models = [str(m) for m in report.pairwise.table.index]
        if report.pairwise.baseline:
            models.append(report.pairwise.baseline)
    wanted = set(models)
    out = []
    for cat in view.categories():
        questions = []
        for q in (q for q in view.questions.values() if q.category == cat):
            qid = q.question_id
            qv = view.question_view(qid, judge)
            pairs: list[tuple[str, str]] = []
            if not single:
                pairs = [p for p in view.pair_opponents(judge, qid) if set(p) <= wanted]
                if report.pairwise.baseline:
                    pairs = [p for p in pairs if report.pairwise.baseline in p]
            shown = models if single else [m for m in models if any(m in p for p in pairs)]
            answers = [view.answer_view(m, qid) for m in shown]
            judged = [view.single_judgments(qid, m, judge) for m in shown] if single else []
            questions.append(
                {
                    "id": qid,
                    "summary": f"{qid}: {preview(q.turns[0], 110)}",
                    "extra": _summary_scores(view, judge, qid, models)
                    if single
                    else _summary_verdicts(view, judge, qid, pairs),
                    "turns": [
                        {
                            "n": n,
                            "user": qv["turns"][n - 1],
                            "single": list(zip(answers, [t[n - 1] for t in judged], strict=True)) if single else [],
                            "side_by_side": [] if single else answers,
                        }
                        for n in range(1, len(q.turns) + 1)
                    ],
                    "matches": [m for a, b in pairs for m in view.pair_matches(qid, a, b, judge)],
                    "reference": qv["reference"],
                    "hints": qv["hints"],
                }
            )
        out.append({"name": cat, "questions": questions})
    return out
