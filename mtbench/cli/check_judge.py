"""`mtbench check-judge`: re-judge a small subset of the published answers and compare with the published GPT-4 scores."""

from __future__ import annotations

import argparse

from mtbench.cli.options import FlagMap, add_config_options, config_from


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


def add_options(parser: argparse.ArgumentParser) -> None:
    from mtbench.gen_judgment.check_judge import CheckJudgeConfig

    flag_map = FlagMap()
    add_config_options(parser, CheckJudgeConfig, flag_map)
    parser.set_defaults(flag_map=flag_map)


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_judgment.check_judge import CheckJudgeConfig, check_judge

    report = check_judge(config_from(CheckJudgeConfig, args, args.flag_map),
                         announce=lambda text: print(text, flush=True))
    if report is not None:
        print(report.describe(), flush=True)
    return 0
