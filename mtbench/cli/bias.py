"""`mtbench bias`: what a judge's verdicts lean on (position, length, markdown, its own family), with CIs."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.show_result.bias_command:BiasConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "bias",
        help="measure a judge's position, length, markdown and self-preference bias",
        description=(
            "Measure what one judgment file's verdicts lean on. Pairwise: how often the answer shown first wins "
            "(game 1, game 2, both), how often a match's verdict flips when the answers swap places, the tie "
            "rate, and how often the longer answer (more than 10% more characters) or the one with more markdown "
            "(header lines, list items, bold spans) wins a decided game. Single: Spearman correlation of score "
            "with answer length, pooled and within question, the mean score by length quartile, and score points "
            "per doubling of length. With --self and --reference-judge: how much more the judge gives its own "
            "family than a second judge does, beyond the other models. Lengths are counted in characters of the "
            "answers in BENCH/model_answer. Every number carries a 95% bootstrap CI over questions and a "
            "one-line reading."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.show_result.bias_command import bias
    from mtbench.show_result.bias_render import render_bias

    config = command_config(args)
    sys.stdout.write(render_bias(bias(config), config.format))
    return 0
