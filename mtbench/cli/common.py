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


def parsed(flag: str, parse, text: str | None):
    """``parse(text)`` for a flag's text, None where it was not given; its ValueError as a one-line UserError."""
    from mtbench.core.errors import UserError

    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as e:
        raise UserError(f"{flag} {e}") from None
