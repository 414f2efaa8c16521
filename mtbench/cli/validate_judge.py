"""`mtbench validate-judge`: judge the games the MT-bench experts voted on and compare (issue 24)."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.validate_judge.command:ValidateConfig"


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "validate-judge",
        help="does your judge agree with the MT-bench experts as often as GPT-4 does? (priced, resumable)",
        description=(
            "Judge, pairwise and in both orders, exactly the games the MT-bench experts voted on "
            "(lmsys/mt_bench_human_judgments: --human FILE) on the published answers of the paper's models "
            "(`mtbench download --pregenerated`), through `mtbench judge` itself (plan and cost first, "
            "--max-cost, resume). Prints one table: agreement with the experts and with GPT-4's votes on the same "
            "games, per turn, with and without ties, with CIs and Cohen's kappa, the paper's numbers beside "
            "them; the judge's position consistency and tie rate; and one sentence. Its judgments go to "
            "BENCH/model_judgment/validate_judge/JUDGE_pair.jsonl."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    from mtbench.validate_judge import render, validate_judge

    config = command_config(args)
    found = validate_judge(config, announce=lambda text: print(text, flush=True))
    if found is not None:
        sys.stdout.write(render(found))
        if found.summary is not None:  # the numbers are shown; a judge that mostly could not judge still fails
            found.summary.check_failure_rate(config.max_failure_rate, found.judge_model)
    return 0
