"""`mtbench report`: one self-contained HTML file (leaderboard, CIs, categories, radar, drill-down)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtbench.cli.common import add_layout_args, layout_from, non_negative_int
from mtbench.core.bench import DEFAULT_BASELINE_MODEL, MODES


def register(sub) -> None:
    parser = sub.add_parser(
        "report",
        help="write a self-contained HTML report (leaderboard, CIs, radar chart, every answer and judgment)",
        description=(
            "Write one HTML file that needs no server and no network: the leaderboard with bootstrap confidence "
            "intervals, the per-category table and radar chart (single mode), and a per-question drill-down "
            "with each model's answers, scores and the judge's explanations. All model and judge text is "
            "escaped and the page runs no script: safe to attach to a model card or a pull request."
        ),
    )
    add_report_args(parser)
    parser.set_defaults(run=run)


def add_report_args(parser) -> None:
    """report's flags (``mtbench run`` registers them too, see ``cli.flag_scope``)."""
    add_layout_args(parser)
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE.html", help="where to write the report"
    )
    parser.add_argument(
        "--judge-model",
        metavar="JUDGE",
        help="judge whose judgments to report (default: gpt-4, or the only judge with judgments)",
    )
    parser.add_argument(
        "--mode", choices=MODES, default="single", help="which judgments to report (default: single)"
    )
    parser.add_argument(
        "--baseline-model",
        default=DEFAULT_BASELINE_MODEL,
        help="the baseline in --mode pairwise-baseline (default: gpt-3.5-turbo)",
    )
    parser.add_argument(
        "--model-list", nargs="+", metavar="MODEL", help="only these models (default: all judged)"
    )
    parser.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the confidence intervals; 0 turns them off (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument(
        "--no-questions",
        dest="drilldown",
        action="store_false",
        help="leave out the per-question drill-down (a much smaller file)",
    )


def report_config_from(args: argparse.Namespace):
    """The ``ReportConfig`` of report's flags."""
    from mtbench.report import ReportConfig

    return ReportConfig(
        layout=layout_from(args),
        out=args.out,
        judge_model=args.judge_model,
        mode=args.mode,
        baseline_model=args.baseline_model,
        model_list=tuple(args.model_list) if args.model_list else None,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        drilldown=args.drilldown,
    )


def run(args: argparse.Namespace) -> int:
    from mtbench.report import write_report

    out = write_report(report_config_from(args))
    size = out.stat().st_size
    print(f"mtbench report: wrote {out} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
