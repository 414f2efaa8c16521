"""`mtbench report`: one self-contained HTML file (leaderboard, CIs, categories, radar, drill-down)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import FlagMap, add_config_options, config_from


def register(sub) -> argparse.ArgumentParser:
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
    parser.set_defaults(run=run)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    from mtbench.report import ReportConfig

    flag_map = FlagMap()
    add_config_options(parser, ReportConfig, flag_map)
    parser.set_defaults(flag_map=flag_map)


def run(args: argparse.Namespace) -> int:
    from mtbench.report import ReportConfig, write_report

    out = write_report(config_from(ReportConfig, args, args.flag_map))
    size = out.stat().st_size
    print(f"mtbench report: wrote {out} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
