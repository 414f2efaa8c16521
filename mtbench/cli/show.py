"""`mtbench show`: score tables, win rates and confidence intervals from a judgment file (FastChat's show_result)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtbench.cli.common import add_layout_args, layout_from, non_negative_int
from mtbench.core.bench import DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, FORMATS, MODES, Mode


def register(sub) -> None:
    parser = sub.add_parser(
        "show",
        help="show scores, win rates and confidence intervals from the judgments",
        description=(
            "Print MT-bench results from a judgment file: per-turn and overall scores per model with 95% "
            "bootstrap confidence intervals and a per-category table (single), or win/loss/tie and win rates "
            "(pairwise). Reads FastChat's judgment files and mtbench's alike. A judgment appended twice by a "
            "rerun counts once; failed judgments are left out of the means and counted. Each row says how many "
            "questions it covers; a row covering fewer than the most-covered model or the bench is marked "
            "partial (*). Categories come from "
            "BENCH/question.jsonl, or for mt_bench without it from the fixed question-id blocks (81-90 writing, "
            "..., 151-160 humanities)."
        ),
    )
    add_show_args(parser)
    parser.set_defaults(run=run)


def add_show_args(parser) -> None:
    """show's flags (``mtbench run`` registers them too, see ``cli.flag_scope``)."""
    add_layout_args(parser)
    parser.add_argument(
        "--input-file", type=Path,
        help="judgment file (default: BENCH/model_judgment/JUDGE_single.jsonl; JUDGE_pair.jsonl in the pairwise "
        "modes); the report names the judges its records hold",
    )
    parser.add_argument(
        "--judge-model", default=DEFAULT_JUDGE_MODEL,
        help="judge whose file to read, named as for `mtbench judge` (a served name or a path such as /models/x "
        f"maps to its file name the same way; default: {DEFAULT_JUDGE_MODEL})",
    )
    parser.add_argument(
        "--baseline-model", default=DEFAULT_BASELINE_MODEL,
        help="the baseline in --mode pairwise-baseline (default: gpt-3.5-turbo)",
    )
    parser.add_argument("--model-list", nargs="+", metavar="MODEL", help="only these models (default: all judged)")
    parser.add_argument("--mode", choices=MODES, default="single", help="which judgments to show (default: single)")
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"),
        help="paired bootstrap of A's score minus B's over the questions both have (single mode)",
    )
    parser.add_argument(
        "--bootstrap", type=non_negative_int, default=1000, metavar="N",
        help="bootstrap resamples for the confidence intervals; 0 turns them off (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed: same seed, same intervals (default: 0)")
    parser.add_argument(
        "--aggregate", choices=("median", "mean"), default="median",
        help="how the samples of a match judged several times (judge --judge-samples) become one score "
        "(default: median)",
    )
    parser.add_argument(
        "--allow-mixed", action="store_true",
        help="show a table whose judgments come from different judge snapshots, judge prompt files or reference "
        "sets (refused by default, exit 2: such scores do not compare); the table then carries a warning",
    )
    parser.add_argument(
        "--control", choices=("length", "style"),
        help="put a length- (or length-and-markdown-) controlled number beside the raw one: single, the score "
        "adjusted by a regression on answer length with a term per model; pairwise-baseline, AlpacaEval's "
        "length-controlled win rate; pairwise-all, Bradley-Terry with style covariates as arena-hard-auto. "
        "Reads the answers in BENCH/model_answer; needs at least two models",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write the per-category radar chart (single mode)")


def show_config_from(args: argparse.Namespace):
    """The ``ShowConfig`` of show's flags (it checks itself: one-line UserError)."""
    from mtbench.core.errors import UserError
    from mtbench.show_result import ShowConfig

    if args.plot is not None and args.mode != Mode.SINGLE:
        raise UserError("--plot draws the per-category radar chart of --mode single")
    layout = layout_from(args)
    return ShowConfig(
        judgment_file=args.input_file or layout.judgment_file(args.judge_model, args.mode),
        mode=args.mode,
        question_file=layout.question_file,
        answer_dir=layout.answer_dir,
        judge_model=args.judge_model,
        baseline_model=args.baseline_model,
        model_list=tuple(args.model_list) if args.model_list else None,
        compare=tuple(args.compare) if args.compare else None,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        mt_bench_fallback=args.bench_name == "mt_bench",
        aggregate=args.aggregate,
        allow_mixed=args.allow_mixed,
        control=getattr(args, "control", None),
    )


def run(args: argparse.Namespace) -> int:
    from mtbench.show_result import show

    config = show_config_from(args)
    print_show(show(config), args.format, args.plot)
    return 0


def print_show(report, fmt: str, plot: Path | None) -> None:
    """What ``show`` prints for ``report``: the tables on stdout, and the radar chart to ``plot``."""
    from mtbench.core.errors import UserError
    from mtbench.show_result import radar_figure, render

    if plot is not None:
        by_category = report.single.by_category if report.single is not None else None
        if by_category is None:
            raise UserError(f"--plot: categories are unavailable (no question file at {report.config.question_file})")
        try:
            radar_figure(by_category).savefig(plot, format="png", bbox_inches="tight")
        except OSError as e:
            raise UserError(f"--plot: cannot write {plot}: {e.strerror or e}") from None
    sys.stdout.write(render(report, fmt))
    if fmt in ("csv",) and report.comparison is not None:
        # CSV holds one table; the comparison goes to stderr so stdout stays machine-readable.
        c = report.comparison
        print(
            f"mtbench show: {c.model_a} - {c.model_b} = {c.difference:+.4f} "
            f"[{c.ci_low:.4f}, {c.ci_high:.4f}] over {c.n_questions} questions",
            file=sys.stderr,
        )
    if plot is not None:
        print(f"mtbench show: wrote {plot}", file=sys.stderr)
