"""Flags every command shares, so they are spelled and defaulted once."""

from __future__ import annotations

import argparse
from pathlib import Path

from mtbench.bench import DEFAULT_BENCH, DEFAULT_DATA_DIR, BenchLayout


def add_layout_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="folder holding judge_prompts.jsonl and BENCH/ (default: ./data, as FastChat)",
    )
    parser.add_argument("--bench-name", default=DEFAULT_BENCH, help="benchmark folder name (default: mt_bench)")


def layout_from(args: argparse.Namespace) -> BenchLayout:
    return BenchLayout(data_dir=args.data_dir, bench_name=args.bench_name)


def not_implemented(name: str, issue: str):
    """The placeholder a command uses until its issue lands: says so and exits non-zero."""

    def run(args: argparse.Namespace) -> int:
        from mtbench.errors import RunFailed

        raise RunFailed(f"'mtbench {name}' is not implemented yet ({issue})")

    return run
