"""`mtbench run`: download, answers, judge, show (and --report) in one command, resumable at any step.

Its flags are its steps' own, generated from their configs as ``mtbench.cli.run_steps`` lays them out;
each step's config is built from the flags of that step alone, and ``RunConfig`` holds them.
"""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import FlagMap
from mtbench.cli.run_steps import add_step_options

EPILOG = """\
Steps: [1] download the data if a file is missing, [2] answers (gen-answer with --model-path, or
gen-api-answer with --model and --base-url), [3] judge, [4] show, [5] report (with --report FILE).
One plan is printed before anything that costs (answers to generate, judge calls, estimated cost);
--dry-run prints it and stops, --max-cost refuses it (exit 2) before any call. Every step resumes from its
files: rerun the same command after a kill and it goes on where it stopped; a finished run, rerun, calls
nothing and prints the tables again. Exit code: the worst step's.

Every flag is the separate command's, with its meaning, except where two steps' names collide:
  the judge's --parallel, --timeout, --max-retries, --max-tokens, --batch-size are --judge-parallel,
  --judge-timeout, --judge-max-retries, --judge-max-tokens, --judge-batch-size (the plain names are the
  answer step's); show's and report's --seed is --bootstrap-seed (--seed: gen-answer's sampling seed);
  report's --out is --report; download's --timeout is --download-timeout.
  --retry-failed redoes failed answers and failed judgments; --no-progress applies to every step.
  --model-list (default: the run's models; pairwise-all: every answer file) is judged and shown.
  Answers go to DATA/BENCH/model_answer/MODEL_ID.jsonl, where the judge reads them (no --answer-file).
  A question slice from the first question (--question-end N) is judged as --first-n N.
"""


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "run",
        help="the whole evaluation in one command: download, answers, judge, show (and an HTML report)",
        description=(
            "Evaluate one model end to end: 'mtbench run --model-path PATH' (a local model) or "
            "'mtbench run --model NAME --base-url URL' (one served by an OpenAI-compatible endpoint), "
            "judged by any judge (--judge-model, --judge-base-url), then the score tables."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    flag_map = FlagMap()
    add_step_options(parser, flag_map)
    parser.set_defaults(flag_map=flag_map)


def run(args: argparse.Namespace) -> int:
    from mtbench.api import evaluate
    from mtbench.api.run_flags import run_config_from
    from mtbench.cli.show import print_logged, print_show

    config = run_config_from(vars(args), args.flag_map)
    banner = None
    if "--model-path" not in vars(args) and "--model" not in vars(args):
        from mtbench.pipeline.demo import BANNER, DEMO_FOOTER

        banner = BANNER.format(per_category=config.judge.per_category)
        print(banner + "\n", flush=True)
    evaluation = evaluate(config, progress=True, announce=lambda text: print(text, flush=True))
    outcome = evaluation.outcome
    if outcome.tables is not None or outcome.shown is not None:
        sys.stdout.flush()
        if outcome.tables is not None:
            print_show(outcome.tables)
            print_logged(evaluation.scores)
        else:  # a bench protocol's own tables (MT-Bench-101)
            sys.stdout.write(outcome.shown or "")
        print("files:")
        for path in outcome.answer_files:
            print(f"  answers: {path}")
        print(f"  judgments: {outcome.judgment_file}")
        if outcome.report_file is not None:
            print(f"  report: {outcome.report_file}")
    if banner is not None:
        print(f"\n{DEMO_FOOTER}", flush=True)
    return outcome.exit_code
