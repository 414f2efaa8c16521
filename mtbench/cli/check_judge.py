"""`mtbench check-judge`: re-judge a small subset of the published answers and compare with the published GPT-4 scores."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.gen_judgment.check_judge:CheckJudgeConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "check-judge",
        help="does your judge still judge like the leaderboard's GPT-4? (a small, priced drift check)",
        description=(
            "Re-judge the first N questions of a few of FastChat's published answers (from `mtbench download "
            "--pregenerated`) with your judge, then compare with the published GPT-4 single judgments: per-model "
            "mean scores and their difference, exact agreement, agreement within one point and Cohen's kappa. "
            "The plan and estimated cost are printed first (--dry-run stops there; --max-cost refuses above a "
            "budget). Its judgments go to BENCH/model_judgment/check_judge/JUDGE_single.jsonl, and a rerun resumes."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_judgment.check_judge import check_judge

    report = check_judge(command_config(args),
                         announce=lambda text: print(text, flush=True))
    if report is not None:
        print(report.describe(), flush=True)
    return 0
