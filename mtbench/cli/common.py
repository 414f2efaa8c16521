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


def add_endpoint_args(
    parser: argparse.ArgumentParser,
    *,
    url_flags: tuple[str, ...],
    key_flag: str,
    parallel_default: int,
    parallel_help: str,
) -> None:
    """The flags of a command that calls an OpenAI-compatible endpoint (judge, gen-api-answer).

    Defaults of timeout and retries are left to ``EndpointConfig``/``RetryPolicy`` (None here), so
    they live in one place and the help stays fast to build (no openai import).
    """
    parser.add_argument(
        *url_flags, dest="base_url", default=None, metavar="URL",
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL, else the OpenAI API)",
    )
    parser.add_argument(
        key_flag, dest="api_key_env", default="OPENAI_API_KEY", metavar="VAR",
        help="environment variable holding the API key (default: OPENAI_API_KEY; "
        "a self-hosted endpoint that takes no key needs none)",
    )
    parser.set_defaults(url_flag="/".join(url_flags))  # named in the config's error about a bad URL
    parser.add_argument("--parallel", type=int, default=parallel_default, help=parallel_help)
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="timeout of each request (default: 120)")
    parser.add_argument("--max-retries", type=int, default=None, metavar="N",
                        help="retries of a request after 429, 5xx, timeouts and dropped connections (default: 6)")


def endpoint_from(args: argparse.Namespace):
    """An ``EndpointConfig`` from the flags of ``add_endpoint_args``; it checks itself (one-line UserError)."""
    from mtbench.core.client import EndpointConfig, RetryPolicy

    given: dict = {"base_url": args.base_url, "api_key_env": args.api_key_env, "url_flag": args.url_flag}
    if args.timeout is not None:
        given["timeout"] = args.timeout
    if args.max_retries is not None:
        given["retry"] = RetryPolicy(max_retries=args.max_retries)
    return EndpointConfig(**given)


def add_budget_args(parser: argparse.ArgumentParser) -> None:
    """The flags that bound what a judge run may cost (judge, check-judge)."""
    parser.add_argument("--dry-run", action="store_true", help="print the plan and estimated cost; call nothing")
    parser.add_argument("--max-cost", type=float, metavar="USD",
                        help="refuse to start (exit 2) if the estimated cost is above this "
                        "(a --dry-run says so and exits 2 too)")
    parser.add_argument("--price-input", type=float, metavar="USD",
                        help="judge price per 1M input tokens (overrides the built-in table)")
    parser.add_argument("--price-output", type=float, metavar="USD",
                        help="judge price per 1M output tokens (overrides the built-in table)")
