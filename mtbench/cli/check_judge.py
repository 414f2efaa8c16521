"""`mtbench check-judge`: re-judge a small subset of the published answers and compare with the published GPT-4 scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from mtbench.cli.common import add_budget_args, add_endpoint_args, add_layout_args, endpoint_from, layout_from
from mtbench.core.bench import DEFAULT_JUDGE_MODEL

DEFAULT_MODELS = ("gpt-4", "vicuna-13b-v1.3", "llama-13b")  # mtbench.gen_judgment.check_judge's, kept import-free for --help


def register(sub) -> None:
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
    add_layout_args(parser)
    parser.add_argument("--judge-model", default=DEFAULT_JUDGE_MODEL,
                        help=f"judge model name sent to the endpoint (default: {DEFAULT_JUDGE_MODEL})")
    parser.add_argument("--models", nargs="+", metavar="MODEL", default=list(DEFAULT_MODELS),
                        help=f"published models to re-judge (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--first-n", type=int, default=10, metavar="K", help="questions to re-judge (default: 10)")
    parser.add_argument("--published-file", type=Path, default=None,
                        help="the published GPT-4 single judgments (default: BENCH/model_judgment/gpt-4_single.jsonl)")
    add_endpoint_args(parser, url_flags=("--judge-base-url",), key_flag="--judge-api-key-env",
                      parallel_default=8, parallel_help="concurrent judge requests (default: 8)")
    add_budget_args(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_judgment.check_judge import CheckJudgeConfig, check_judge

    config = CheckJudgeConfig(
        layout=layout_from(args),
        judge_model=args.judge_model,
        models=tuple(dict.fromkeys(args.models)),
        first_n=args.first_n,
        published_file=args.published_file,
        endpoint=endpoint_from(args),
        parallel=args.parallel,
        max_cost=args.max_cost,
        price_input=args.price_input,
        price_output=args.price_output,
        progress=not args.no_progress,
    )
    report = check_judge(config, dry_run=args.dry_run, announce=lambda text: print(text, flush=True))
    if report is not None:
        print(report.describe(), flush=True)
    return 0
