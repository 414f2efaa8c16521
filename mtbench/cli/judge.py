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
            "The plan (matches, calls, estimated tokens and cost) is printed before any call. Several judges "
            "(--judge-model A B C on one endpoint, or --jury FILE) judge side by side, each writing its own file."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.benches import protocol_for
    from mtbench.gen_judgment.jury import judge_any

    config = command_config(args)
    announce = lambda text: print(text, flush=True)  # noqa: E731
    protocol = protocol_for(config.layout)  # a bench with a protocol of its own (MT-Bench-101) judges its way
    if protocol is not None and config.is_jury:
        from mtbench.core.options import ConfigError

        raise ConfigError(f"a jury (several {{judge_models}}, or {{jury_file}}) judges MT-bench; "
                          f"{config.layout.bench_name} takes one judge per run")
    summary = (judge_any(config, dry_run=config.dry_run, announce=announce) if protocol is None
               else protocol.judge(config, dry_run=config.dry_run, announce=announce))
    if summary is not None:
        print(summary.describe(), flush=True)
    return 0
