"""`mtbench report`: one self-contained HTML file with the leaderboard, CIs, per-category table, radar chart
and a per-question drill-down, to attach to a model card or a pull request.

No server, no network, no script: the CSS is inline (allowed by its hash in the page's
Content-Security-Policy, which forbids everything else), the radar chart is a ``data:`` PNG, and every piece
of model or judge text is escaped (``webview.markup``). The numbers are ``show_result``'s.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtbench import __version__
from mtbench.bench import DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, BenchLayout, Mode
from mtbench.errors import UserError
from mtbench.webview.bench_view import BenchView, find_judges, load_bench_view, preview
from mtbench.webview.markup import escape


@dataclass(frozen=True)
class ReportConfig:
    layout: BenchLayout
    out: Path
    judge_model: str | None = None  # None: gpt-4 if it has judgments, else the only judge found
    mode: str = "single"
    baseline_model: str = DEFAULT_BASELINE_MODEL
    model_list: tuple[str, ...] | None = None
    n_bootstrap: int = 1000
    seed: int = 0
    drilldown: bool = True


def resolve_judge(layout: BenchLayout, judge_model: str | None, mode: str) -> str:
    """The judge to report: the one named, else gpt-4 when it has the mode's file, else the only judge that has."""
    if judge_model is not None:
        return judge_model
    kind = Mode.parse(mode).kind
    judges = [j.judge for j in find_judges(layout).values() if getattr(j, kind) is not None]
    if DEFAULT_JUDGE_MODEL in judges or not judges:
        return DEFAULT_JUDGE_MODEL
    if len(judges) == 1:
        return judges[0]
    raise UserError(
        f"several judges have {kind} judgments ({', '.join(judges)}); pick one with --judge-model"
    )


def build_report(config: ReportConfig) -> str:
    """Read the files named by ``config`` and return the report's HTML."""
    from mtbench.show_result import ShowConfig, radar_figure, show

    Mode.parse(config.mode)
    judge = resolve_judge(config.layout, config.judge_model, config.mode)
    path = config.layout.judgment_file(judge, config.mode)
    report = show(
        ShowConfig(
            judgment_file=path,
            mode=config.mode,
            question_file=config.layout.question_file,
            judge_model=judge,
            baseline_model=config.baseline_model if config.mode == "pairwise-baseline" else None,
            model_list=config.model_list,
            n_bootstrap=config.n_bootstrap,
            seed=config.seed,
            mt_bench_fallback=config.layout.bench_name == "mt_bench",
        )
    )
    view = load_bench_view(config.layout, judge)
    radar = None
    if report.single is not None and report.single.by_category is not None:
        buf = io.BytesIO()
        radar_figure(report.single.by_category, title=f"MT-bench score by category (judge {judge})").savefig(
            buf, format="png", bbox_inches="tight"
        )
        radar = buf.getvalue()
    return render_report(view, report, judge, radar, drilldown=config.drilldown)


def write_report(config: ReportConfig) -> Path:
    text = build_report(config)
    out = config.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"--out: cannot write {out}: {e.strerror or e}") from None
    return out


# ---------------------------------------------------------------------------------------------------
# rendering (pure: view + show's report -> HTML)


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


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], css_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _rich(piece: dict[str, str]) -> str:
    return f'<div class="body">{piece["html"]}</div>'


def _block(kind: str, label: str, content: str) -> str:
    return f'<div class="block {kind}"><div class="label">{escape(label)}</div>{content}</div>'


def _leaderboard(report: Any, judge: str, radar: bytes | None) -> str:
    parts = []
    conf = report.config.confidence
    pct = f"{conf:.0%} CI"
    if report.single is not None:
        s = report.single
        rows = [
            [
                str(m),
                _num(r.first_turn, 2),
                _num(r.second_turn, 2),
                _num(r.overall, 2),
                _ci(r.ci_low, r.ci_high, 2),
                _num(int(r.n_valid), 0),
                _num(int(r.n_failed), 0),
            ]
            for m, r in s.scores.iterrows()
        ]
        parts.append("<h2>Leaderboard</h2>")
        parts.append(_table(["model", "turn 1", "turn 2", "score", pct, "valid", "failed"], rows, "scores"))
        if s.by_category is not None:
            models = [str(m) for m in s.by_category.columns]
            rows = [[str(cat)] + [_num(v, 2) for v in row] for cat, row in s.by_category.iterrows()]
            parts.append("<h2>Score by category</h2>")
            parts.append(_table(["category", *models], rows, "by-category"))
    if report.pairwise is not None:
        p = report.pairwise
        what = f"against {p.baseline}" if p.baseline else "all pairs"
        rows = [
            [
                str(m),
                _num(int(r.win), 0),
                _num(int(r.loss), 0),
                _num(int(r.tie), 0),
                _num(int(r.n_error), 0),
                _num(r.win_rate, 3),
                _ci(r.win_rate_ci_low, r.win_rate_ci_high, 3),
                _num(r.win_rate_adjusted, 3),
                _ci(r.adjusted_ci_low, r.adjusted_ci_high, 3),
                _num(r.consistency, 3),
            ]
            for m, r in p.table.iterrows()
        ]
        parts.append(f"<h2>Leaderboard (pairwise, {escape(what)})</h2>")
        parts.append(
            _table(
                [
                    "model",
                    "win",
                    "loss",
                    "tie",
                    "error",
                    "win rate",
                    pct,
                    "adjusted win rate",
                    pct,
                    "consistent",
                ],
                rows,
                "scores",
            )
        )
        parts.append(
            f"<p>Position consistency: {escape(_num(p.consistency, 3))} of {p.matches} matches had both games agree "
            "(disagreements count as ties).</p>"
        )
    if radar is not None:
        data = base64.b64encode(radar).decode("ascii")
        parts.append("<h2>Radar</h2>")
        parts.append(
            f'<img id="radar" class="radar" alt="per-category radar chart" src="data:image/png;base64,{data}">'
        )
    notes = list(report.notes)
    n_boot = report.single.n_bootstrap if report.single is not None else report.pairwise.n_bootstrap
    if n_boot:
        notes.append(
            f"CIs: {conf:.0%} percentile bootstrap over questions, {n_boot} resamples, seed {report.config.seed}"
        )
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)


def _answer_html(a: dict[str, Any], model: str, turn: int) -> str:
    body = ""
    if a["failure"]:
        body += f'<div class="failure-reason">Failed answer: {escape(a["failure"])}</div>'
    if turn <= len(a["turns"]):
        body += _rich(a["turns"][turn - 1])
    kind = "answer failure" if a["failure"] else "answer"
    return _block(kind, f"{model}, turn {turn}", body)


def _single_judgment_html(j: dict[str, Any]) -> str:
    label = f"Judgment, turn {j['turn']}" + (f" ({j['prompt']})" if j["prompt"] else "")
    if j["status"] == "missing":
        return _block("judge", label, '<div class="muted">N/A: not judged</div>')
    if j["status"] == "failed":
        head = f'<div class="failure-reason">Failed judgment: {escape(j["failure"] or "failed")}</div>'
        return _block("judge failure", label, head + _rich(j["explanation"]))
    return _block(
        "judge",
        label,
        f'<div class="score">Score: {escape(_num(j["score"], 1))} / 10</div>' + _rich(j["explanation"]),
    )


def _match_html(m: dict[str, Any]) -> str:
    label = f"Turn {m['turn']}" + (f" ({m['prompt']})" if m.get("prompt") else "")
    if m["status"] == "missing":
        return _block("judge", label, '<div class="muted">N/A: not judged</div>')
    title = f"{m['model_1']} vs {m['model_2']}"
    if m["status"] == "failed":
        head = f'<div class="failure-reason">Failed judgment: {escape(m["failure"])}</div>'
    elif m["verdict"] == "tie":
        head = (
            '<div class="verdict inconsistent">Tie (inconsistent: the two games disagree)</div>'
            if m["inconsistent"]
            else '<div class="verdict">Tie</div>'
        )
    else:
        head = f'<div class="verdict">Winner: {escape(m["verdict"])}</div>'
    games = "".join(
        f'<div class="game"><div class="muted">Game {g["game"]}: A = {escape(g["assistant_a"])}, '
        f"B = {escape(g['assistant_b'])}; winner: {escape(g['winner'])}</div>{_rich(g['explanation'])}</div>"
        for g in m["games"]
    )
    kind = "judge failure" if m["status"] == "failed" else "judge"
    return _block(kind, f"{title}, {label}", head + f'<div class="columns">{games}</div>')


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


def _drilldown(view: BenchView, report: Any, judge: str) -> str:
    single = report.single is not None
    if single:
        models = [str(m) for m in report.single.scores.index]
    else:
        models = [str(m) for m in report.pairwise.table.index]
        if report.pairwise.baseline:
            models.append(report.pairwise.baseline)
    wanted = set(models)
    parts = ["<h2>Questions</h2>"]
    for cat in view.categories():
        parts.append(f"<h3>{escape(cat)}</h3>")
        for q in (q for q in view.questions.values() if q.category == cat):
            qv = view.question_view(q.question_id, judge)
            summary = f"{q.question_id}: {preview(q.turns[0], 110)}"
            pairs: list[tuple[str, str]] = []
            if not single:
                pairs = [p for p in view.pair_opponents(judge, q.question_id) if set(p) <= wanted]
                if report.pairwise.baseline:
                    pairs = [p for p in pairs if report.pairwise.baseline in p]
            if single:
                extra = _summary_scores(view, judge, q.question_id, models)
            else:
                extra = _summary_verdicts(view, judge, q.question_id, pairs)
            shown = models if single else [m for m in models if any(m in p for p in pairs)]
            answers = {m: view.answer_view(m, q.question_id) for m in shown}
            judged = {m: view.single_judgments(q.question_id, m, judge) for m in shown} if single else {}
            inner = []
            for turn in range(1, len(q.turns) + 1):
                inner.append(_block("user", f"User, turn {turn}", _rich(qv["turns"][turn - 1])))
                if single:
                    for m in shown:
                        inner.append(_answer_html(answers[m], m, turn))
                        inner.append(_single_judgment_html(judged[m][turn - 1]))
                else:
                    inner.append(
                        '<div class="columns">'
                        + "".join(f"<div>{_answer_html(answers[m], m, turn)}</div>" for m in shown)
                        + "</div>"
                    )
            for a, b in pairs:
                for m in view.pair_matches(q.question_id, a, b, judge):
                    inner.append(_match_html(m))
            ref = qv["reference"]
            if ref is not None:
                how = (
                    "given to the judge" if ref["judged_with"] else "not used by the judge for this category"
                )
                body = f'<div class="muted">{escape(ref["source"])}: {escape(ref["why"])}</div>'
                if ref["failure"]:
                    body += f'<div class="failure-reason">{escape(ref["failure"])}</div>'
                body += "".join(_rich(t) for t in ref["turns"])
                inner.append(_block("reference", f"Reference answer ({ref['set']}, {how})", body))
            if qv["hints"]:
                inner.append(
                    _block(
                        "reference",
                        "Reference hints (question file; never shown to the judge)",
                        "".join(_rich(t) for t in qv["hints"]),
                    )
                )
            extra_html = f' <span class="muted">{escape(extra)}</span>' if extra else ""
            parts.append(
                f'<details class="question" id="q{q.question_id}"><summary>{escape(summary)}{extra_html}</summary>'
                + "".join(inner)
                + "</details>"
            )
    return "".join(parts)


def render_report(
    view: BenchView, report: Any, judge: str, radar: bytes | None, *, drilldown: bool = True
) -> str:
    """The whole page. ``report`` is ``show_result.ShowReport``; ``radar`` the radar chart's PNG bytes."""
    css = _CSS
    style_hash = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    csp = f"default-src 'none'; style-src 'sha256-{style_hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    mode = report.config.mode
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"MT-bench report: {view.layout.bench_name}, judge {judge}, {mode}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">Judgments: {escape(os.fspath(report.config.judgment_file))}. '
        f"Generated by mtbench {escape(__version__)} on {escape(stamp)}.</p>",
        _leaderboard(report, judge, radar),
    ]
    if drilldown:
        body.append(_drilldown(view, report, judge))
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=True)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{css}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


_CSS = """
body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 3rem;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #d0d5dd; margin-top: 2rem; }
h3 { font-size: 1rem; text-transform: capitalize; margin: 1.2rem 0 .3rem; }
.muted { color: #667085; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d5dd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { background: #f2f4f7; }
img.radar { max-width: 640px; width: 100%; border: 1px solid #d0d5dd; border-radius: 8px; }
details.question { border: 1px solid #d0d5dd; border-radius: 8px; margin: .4rem 0; padding: .3rem .8rem; }
details.question > summary { cursor: pointer; }
.block { border: 1px solid #d0d5dd; border-radius: 8px; padding: .5rem .9rem; margin: .6rem 0; overflow-wrap: anywhere; }
.block > .label { font-size: .8rem; font-weight: 600; text-transform: uppercase; color: #667085; }
.user { background: #eef4ff; } .answer { background: #f9fafb; } .judge { background: #fffaeb; }
.reference { background: #ecfdf3; }
.failure { background: #fef3f2; border-color: #fda29b; } .failure-reason { color: #b42318; font-weight: 600; }
.score, .verdict { font-weight: 700; } .inconsistent { color: #b54708; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.columns > div { min-width: 0; }
.body p { margin: .3rem 0; } .body pre { background: #f2f4f7; padding: .5rem; border-radius: 6px; overflow-x: auto; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
"""
