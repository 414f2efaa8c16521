"""The reasoning flags both answer commands share: which tags to split, or none (--keep-reasoning)."""

from __future__ import annotations

import argparse

from mtbench.core.reasoning import THINK_TAGS, ReasoningOptions, ReasoningTags


def add_reasoning_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reasoning-tags", nargs=2, metavar=("OPEN", "CLOSE"),
        help=f"the tags around a reasoning model's inline thinking (default: {THINK_TAGS.open} {THINK_TAGS.close}); "
        "what is between them goes to the record's 'reasoning', the rest is the answer the judge reads",
    )
    parser.add_argument(
        "--keep-reasoning", action="store_true",
        help="do not split inline reasoning from the answer: the answer is the text as the model wrote it",
    )


def reasoning_from(args: argparse.Namespace) -> ReasoningOptions:
    tags = ReasoningTags(*args.reasoning_tags) if args.reasoning_tags else THINK_TAGS
    return ReasoningOptions(tags=tags, keep=args.keep_reasoning)
