"""`mtbench agreement`: how often two judges (or a judge and humans) pick the same winner (FastChat's compute_agreement)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.agreement:AgreementConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "agreement",
        help="agreement between pairwise judges, or between a judge and human votes",
        description=(
            "Agreement on pairwise verdicts, computed as FastChat's compute_agreement: votes keyed by turn, "
            "question and model pair (a vote on the swapped pair is flipped), two ties of any kind agree, and "
            "'without tie' drops comparisons where either side is a tie. A match's verdict in a JUDGE_pair.jsonl "
            "file is FastChat's show rule (tie when game 1 is a tie or the games disagree; failed games are "
            "left out). Each judge is compared with each other judge and, given --human, with every expert vote "
            "(author votes are left out, as FastChat). Prints total, agreeing and ratio per turn, plus Cohen's kappa."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.agreement import agreement, render

    config = command_config(args)
    report = agreement(config)
    sys.stdout.write(render(report, config.format))
    if config.format != "json":
        for note in report.notes:
            print(f"mtbench agreement: {note}", file=sys.stderr)
    return 0
