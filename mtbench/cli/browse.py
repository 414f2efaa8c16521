"""`mtbench browse`: a local web UI over the questions, answers and judgments (FastChat's qa_browser)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.common import add_layout_args, layout_from

DEFAULT_HOST = "127.0.0.1"  # = browse.DEFAULT_HOST, without importing aiohttp for --help
DEFAULT_PORT = 8765


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "browse",
        help="browse questions, answers, judgments and the leaderboard in a local web page",
        description=(
            "Serve a web page over BENCH's questions, model answers and judgments: single-answer grading "
            "(score and explanation per turn), pairwise comparison (both games and the combined verdict) and "
            "the leaderboard with confidence intervals and the radar chart. Reads FastChat's files and "
            "mtbench's, for any judge; follows files that are still being written. Listens on 127.0.0.1 only "
            "unless --host says otherwise."
        ),
    )
    add_layout_args(parser)
    parser.add_argument(
        "--judge-model",
        metavar="JUDGE",
        help="show only this judge's JUDGE_single/JUDGE_pair.jsonl (default: every judge found)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0 shares it on the network)",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    parser.set_defaults(run=run)
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from mtbench.browse import BrowseConfig, serve

    config = BrowseConfig(
        layout=layout_from(args), judge_model=args.judge_model, host=args.host, port=args.port
    )

    def ready(url: str) -> None:
        print(f"mtbench browse: serving {config.layout.bench_dir} at {url} (Ctrl-C to stop)", flush=True)

    try:
        serve(config, on_ready=ready)
    except KeyboardInterrupt:
        print("mtbench browse: stopped", file=sys.stderr)
    return 0
