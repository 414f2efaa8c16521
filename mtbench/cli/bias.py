"""`mtbench bias`: what a judge's verdicts lean on (position, length, markdown, its own family), with CIs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtbench.cli.common import add_layout_args, layout_from, non_negative_int
from mtbench.core.bench import DEFAULT_JUDGE_MODEL, FORMATS, MODES


def register(sub) -> None:
    parser = sub.add_parser(
        "bias",
        help="measure a judge's position, length, markdown and self-preference bias",
        description=(
            "Measure what one judgment file's verdicts lean on. Pairwise: how often the answer shown first wins "
            "(game 1, game 2, both), how often a match's verdict flips when the answers swap places, the tie "
            "rate, and how often the longer answer (more than 10%% more characters) or the one with more markdown "
            "(header lines, list items, bold spans) wins a decided game. Single: Spearman correlation of score "
            "with answer length, pooled and within question, the mean score by length quartile, and score points "
            "per doubling of length. With --self and --reference-judge: how much more the judge gives its own "
            "family than a second judge does, beyond the other models. Lengths are counted in characters of the "
            "answers in BENCH/model_answer. Every number carries a 95%% bootstrap CI over questions and a "
            "one-line reading."
        ),
    )
    add_layout_args(parser)
    parser.add_argument("--input-file", type=Path, help="judgment file (default: BENCH/model_judgment/JUDGE_MODE.jsonl)")
    parser.add_argument("--judge-model", default=DEFAULT_JUDGE_MODEL,
                        help=f"judge whose file to read, named as for `mtbench judge` (default: {DEFAULT_JUDGE_MODEL})")
    parser.add_argument("--mode", choices=MODES, default="single",
                        help="single reads JUDGE_single.jsonl; both pairwise modes read all of JUDGE_pair.jsonl")
    parser.add_argument("--model-list", nargs="+", metavar="MODEL", help="only these models (a match: both listed)")
    parser.add_argument("--self", nargs="+", metavar="MODEL", dest="self_models", default=[],
                        help="the models of the judge's own family, for self-preference (needs --reference-judge)")
    parser.add_argument("--reference-judge", metavar="NAME_OR_FILE",
                        help="the second judge self-preference is measured against: a judge name (its file in "
                        "BENCH/model_judgment) or a judgment file of the same mode")
    parser.add_argument("--bootstrap", type=non_negative_int, default=1000, metavar="N",
                        help="bootstrap resamples of the questions for the CIs; 0 turns them off (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtbench.show_result.bias_command import BiasConfig, bias
    from mtbench.show_result.bias_render import render_bias

    layout = layout_from(args)
    reference = None
    if args.reference_judge:
        given = Path(args.reference_judge)
        reference = given if given.is_file() else layout.judgment_file(args.reference_judge, args.mode)
    config = BiasConfig(
        judgment_file=args.input_file or layout.judgment_file(args.judge_model, args.mode),
        answer_dir=layout.answer_dir,
        mode=args.mode,
        judge_model=args.judge_model,
        model_list=tuple(args.model_list) if args.model_list else None,
        self_models=tuple(args.self_models),
        reference_file=reference,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
    )
    sys.stdout.write(render_bias(bias(config), args.format))
    return 0
