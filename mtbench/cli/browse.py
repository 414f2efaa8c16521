"""`mtbench browse`: a local web UI over the questions, answers and judgments (FastChat's qa_browser)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.browse:BrowseConfig"

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
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.browse import serve

    config = command_config(args)

    def ready(url: str) -> None:
        print(f"mtbench browse: serving {config.layout.bench_dir} at {url} (Ctrl-C to stop)", flush=True)

    try:
        serve(config, on_ready=ready)
    except KeyboardInterrupt:
        print("mtbench browse: stopped", file=sys.stderr)
    return 0
