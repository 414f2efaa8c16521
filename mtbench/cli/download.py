"""`mtbench download` (placeholder until the download module lands)."""

from __future__ import annotations

from mtbench.cli.common import add_layout_args, not_implemented


def register(sub) -> None:
    parser = sub.add_parser("download", help="(not implemented yet)")
    add_layout_args(parser)
    parser.set_defaults(run=not_implemented("download", "issue #2"))
