"""`mtbench show` (placeholder until issue #4 lands)."""

from __future__ import annotations

from mtbench.cli.common import add_layout_args, not_implemented


def register(sub) -> None:
    parser = sub.add_parser("show", help="(not implemented yet)")
    add_layout_args(parser)
    parser.set_defaults(run=not_implemented("show", "issue #4"))
