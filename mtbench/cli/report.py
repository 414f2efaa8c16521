"""`mtbench report`: one self-contained HTML file (leaderboard, CIs, categories, radar, drill-down)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.report:ReportConfig"

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


def run(args: argparse.Namespace) -> int:
    from mtbench.report import write_report

    out = write_report(command_config(args))
    size = out.stat().st_size
    print(f"mtbench report: wrote {out} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
