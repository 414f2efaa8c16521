"""`mtbench gen-answer` (placeholder until issue #5 lands)."""

from __future__ import annotations

from mtbench.cli.common import add_layout_args, not_implemented


def register(sub) -> None:
    parser = sub.add_parser("gen-answer", help="(not implemented yet)")
    add_layout_args(parser)
    parser.set_defaults(run=not_implemented("gen-answer", "issue #5"))
