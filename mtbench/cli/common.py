"""Flags every command shares, so they are spelled and defaulted once."""

from __future__ import annotations

import argparse
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH, DEFAULT_DATA_DIR, BenchLayout


def add_layout_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="folder holding judge_prompts.jsonl and BENCH/ (default: ./data, as FastChat)",
    )
    parser.add_argument("--bench-name", default=DEFAULT_BENCH, help="benchmark folder name (default: mt_bench)")


def layout_from(args: argparse.Namespace) -> BenchLayout:
    return BenchLayout(data_dir=args.data_dir, bench_name=args.bench_name)


def add_per_category_arg(parser: argparse.ArgumentParser) -> None:
    """--per-category (gen-answer, gen-api-answer, judge, run): one meaning in every command."""
    parser.add_argument("--per-category", type=int, metavar="N",
                        help="only the first N questions of each of the 8 categories (after the slice or "
                        "--first-n): a quick look at every category")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number, 0 or more (the error names the flag through argparse)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
