"""`mtbench judge`: grade answers with an LLM judge (FastChat's gen_judgment.py, resumable, no Enter prompt)."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.gen_judgment.config:JudgeConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "judge",
        help="grade model answers with an LLM judge (single, pairwise-baseline, pairwise-all)",
        description=(
            "Judge every answer file (or --model-list) with FastChat's MT-bench judge prompts, sent to any "
            "OpenAI-compatible endpoint, or judged in-process by a local model (--judge-model-path). Judgments are appended to "
            "data/BENCH/model_judgment/JUDGE_single.jsonl or JUDGE_pair.jsonl as they finish; a rerun skips "
            "matches already judged with the same prompt, so an interrupted run resumes where it stopped. "
            "The plan (matches, calls, estimated tokens and cost) is printed before any call."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.api import judge

    config = command_config(args)
    judged = judge(config, progress=True, announce=lambda text: print(text, flush=True))
    if judged.summary is not None:
        print(judged.summary.describe(), flush=True)
        # one judge's gate, each juror's in a jury, and a protocol's own judging (MT-Bench-101) alike
        judged.summary.check_failure_rate(config.max_failure_rate, config.judge_model)
    return 0
