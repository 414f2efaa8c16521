"""`mtbench agreement`: how often two judges (or a judge and humans) pick the same winner (FastChat's compute_agreement)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtbench.cli.common import add_layout_args, layout_from
from mtbench.core.bench import FORMATS


def register(sub) -> None:
    parser = sub.add_parser(
        "agreement",
        help="agreement between pairwise judges, or between a judge and human votes",
        description=(
            "Agreement on pairwise verdicts, computed as FastChat's compute_agreement: votes keyed by turn, "
            "question and model pair (a vote on the swapped pair is flipped), two ties of any kind agree, and "
            "'without tie' drops comparisons where either side is a tie. A match's verdict in a JUDGE_pair.jsonl "
            "file is FastChat's show rule (tie when game 1 is a tie or the games disagree; failed games are "
            "left out). Each judge is compared with each other judge and, given --human, with every expert vote "
            "(author votes are left out, as FastChat). Prints total, agreeing and ratio per turn, plus Cohen's kappa."
        ),
    )
    add_layout_args(parser)
    parser.add_argument(
        "--judgments", nargs="+", type=Path, default=[], metavar="FILE",
        help="pairwise judgment files (JUDGE_pair.jsonl, ours or FastChat's); each is one judge",
    )
    parser.add_argument(
        "--judge-models", nargs="+", default=[], metavar="JUDGE",
        help="judges whose BENCH/model_judgment/JUDGE_pair.jsonl to compare (e.g. gpt-4 llama-judge)",
    )
    parser.add_argument(
        "--human", nargs="+", type=Path, default=[], metavar="FILE",
        help="vote files in the lmsys/mt_bench_human_judgments layout (JSON array or JSONL), pooled; "
        "non-human votes in them (e.g. the gpt4_pair split) count as one more judge",
    )
    parser.add_argument(
        "--human-vs-human", action="store_true",
        help="also the agreement between experts: every pair of expert votes on the same question, turn and pair",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtbench.agreement import AgreementConfig, agreement, render

    config = AgreementConfig(
        judgment_files=tuple(args.judgments),
        human_files=tuple(args.human),
        human_vs_human=args.human_vs_human,
        judge_models=tuple(args.judge_models),
        layout=layout_from(args),
    )
    report = agreement(config)
    sys.stdout.write(render(report, args.format))
    if args.format != "json":
        for note in report.notes:
            print(f"mtbench agreement: {note}", file=sys.stderr)
    return 0
