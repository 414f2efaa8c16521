"""`mtbench report`: one self-contained HTML file with the leaderboard, CIs, per-category table, radar chart
and a per-question drill-down, to attach to a model card or a pull request.

No server, no network, no script: the CSS is inline (allowed by its hash in the page's
Content-Security-Policy, which forbids everything else), the radar chart is a ``data:`` PNG, and the page
comes from jinja2 templates with autoescape on (``webview.report_page``). The numbers are ``show_result``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, MODES, BenchLayout, Mode
from mtbench.core.errors import DISK_FULL
from mtbench.core.jsonl import rewrite_lines
from mtbench.core.jury_file import jury_names
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.protocols import protocol_for, refuse_protocol
from mtbench.show_result.command import bootstrap_option, check_bootstrap, control_option
from mtbench.show_result.stats import DEFAULT_SEED
from mtbench.webview.bench_view import load_bench_view
from mtbench.webview.board import judge_report, radar_png
from mtbench.webview.judges import find_judges
from mtbench.webview.report_page import render_jury_report, render_report

__all__ = ["ReportConfig", "build_report", "render_report", "resolve_judge", "write_report"]


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """One report: what it reads (the layout's judge file, or each judge's of a jury), what it shows, where
    it goes."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    out: Path = option(metavar="FILE.html", help="where to write the report")
    judge_models: tuple[str, ...] = option(
        (), flag="--judge-model", metavar="JUDGE", help="judge whose judgments to report, named as for `mtbench "
        "judge`; several: a jury's table (the jury's score with its CI, each judge's, their agreement)",
        default_help="gpt-4, or the only judge with judgments")
    jury_file: Path | None = option(None, flag="--jury", metavar="FILE",
                                    help="the jury file a `mtbench judge --jury` run judged with: its judges' table")
    mode: str = option(Mode.SINGLE.value, choices=MODES, help="which judgments to report")
    baseline_model: str = option(DEFAULT_BASELINE_MODEL, help="the baseline in --mode pairwise-baseline")
    model_list: tuple[str, ...] | None = option(None, metavar="MODEL", help="only these models",
                                                default_help="all judged")
    n_bootstrap: int = bootstrap_option()
    seed: int = option(DEFAULT_SEED, help="bootstrap seed")
    control: str | None = control_option()
    drilldown: bool = option(True, flag="--no-questions",
                             help="leave out the per-question drill-down (a much smaller file)")
    judge_model: str | None = None  # the one judge (None: resolve_judge's default); `run` sets the one it judged with

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode).value)
        check_bootstrap(self.n_bootstrap)
        names = tuple(dict.fromkeys(self.judge_models))
        check(not (names and self.jury_file is not None),
              "{judge_models} and {jury_file} both name the judges; give one of them")
        if self.jury_file is not None:  # the file's judges become the names (a copy by ``replace`` keeps them)
            names = jury_names(self.jury_file)
            object.__setattr__(self, "jury_file", None)
        if len(names) == 1:
            if self.judge_model is None:  # run's resolved name (a served path's file name) wins over the flag's
                object.__setattr__(self, "judge_model", names[0])
            names = ()
        object.__setattr__(self, "judge_models", names)
        check(not (names and self.control), "{control} is for one judge's table; give one {judge_models}")

    @property
    def jury(self) -> tuple[str, ...]:
        """The jury's judges (none for one judge)."""
        return self.judge_models


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
    raise ConfigError(
        f"several judges have {kind} judgments ({', '.join(judges)}); pick one with {{judge_models}} "
        "(several: a jury's table)"
    )


def build_report(config: ReportConfig) -> str:
    """Read the files named by ``config`` and return the report's HTML.

    Only the answer files of the models the report shows are read (strictly: a bad line is an error
    naming file:line); another model's broken file does not stop it.
    """
    refuse_protocol(protocol_for(config.layout), config.layout, "report")  # MT-Bench-101: show's tables only
    if config.jury:
        return _jury_report(config)
    mode = Mode.parse(config.mode)
    judge = resolve_judge(config.layout, config.judge_model, config.mode)
    path = config.layout.judgment_file(judge, mode)
    baseline = config.baseline_model if mode is Mode.PAIRWISE_BASELINE else None
    report = judge_report(
        config.layout, path, judge, mode,
        baseline=baseline, model_list=config.model_list, n_bootstrap=config.n_bootstrap, seed=config.seed,
        control=config.control,
    )
    rows = report.single.scores.index if report.single is not None else report.pairwise.table.index
    models = [str(m) for m in rows] + ([baseline] if baseline else [])
    view = load_bench_view(config.layout, judge, models=models)
    judge = next(iter(view.judges))  # the name the records hold, when --judge-model gave the file's stem
    radar = radar_png(report, judge)
    return render_report(view, report, judge, radar, drilldown=config.drilldown)


def _jury_report(config: ReportConfig) -> str:
    """A jury's page: show's jury table (``show_result.jury``) and its agreement; no radar, no drill-down
    (both are one judge's: a report per judge gives them)."""
    from mtbench.show_result import ShowConfig, show

    mode = Mode.parse(config.mode)
    report = show(ShowConfig(
        layout=config.layout, judge_models=config.jury, mode=mode.value, baseline_model=config.baseline_model,
        model_list=config.model_list, n_bootstrap=config.n_bootstrap, seed=config.seed))
    return render_jury_report(config.layout, report)


def write_report(config: ReportConfig) -> Path:
    """Build the report and write it to ``config.out`` (whole or not at all)."""
    text = build_report(config)
    out = config.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{{out}}: cannot write {out}: {e.strerror or e}") from None
    try:
        rewrite_lines(out, [text.rstrip("\n").encode("utf-8")])  # a temp file beside it, removed on failure
    except OSError as e:
        if e.errno in DISK_FULL:  # the machine's trouble, not the flag's: exit 1 (the README's promise)
            raise OSError(e.errno, e.strerror or str(e), str(out)) from None
        raise ConfigError(f"{{out}}: cannot write {out}: {e.strerror or e}") from None
    return out
