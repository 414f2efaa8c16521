"""`mtbench judge`: grade answers with an LLM judge (FastChat's gen_judgment.py, resumable, no Enter prompt)."""

from __future__ import annotations

import argparse

from mtbench.cli.options import FlagMap, add_config_options, config_from


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


def add_options(parser: argparse.ArgumentParser) -> None:
    from mtbench.gen_judgment.config import JudgeConfig

    flag_map = FlagMap()
    add_config_options(parser, JudgeConfig, flag_map)
    parser.set_defaults(flag_map=flag_map)


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_judgment import judge
    from mtbench.gen_judgment.config import JudgeConfig

    config = config_from(JudgeConfig, args, args.flag_map)
    summary = judge(config, dry_run=config.dry_run, announce=lambda text: print(text, flush=True))
    if summary is not None:
        print(summary.describe(), flush=True)
    return 0
