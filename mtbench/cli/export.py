"""`mtbench export`: results.json and a details dataset from a judgment file, optionally pushed to the Hub."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.export:ExportConfig"


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "export",
        help="write results.json and a per-judgment Parquet dataset; optionally push them to the Hugging Face Hub",
        description=(
            "Export a judgment file's results in two shared forms: results.json (schema mtbench-results/1: per "
            "model the score and its confidence interval, per turn and per category, or the win rates; the "
            "judgments' provenance) and details.parquet (one row per judgment: question, answers, judge prompt "
            "and reply, score). --push-to-hub OWNER/NAME uploads them with a dataset card to a dataset repo, "
            "private unless --public; the token is huggingface_hub's (HF_TOKEN or the cached login)."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.export import export

    result = export(command_config(args))
    print(f"wrote {result.results}")
    if result.details is not None:
        print(f"wrote {result.details} ({result.rows} judgments)")
    if result.url is not None:
        print(f"pushed to {result.url}")
    return 0
