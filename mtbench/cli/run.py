"""`mtbench run`: download, answers, judge, show (and --report) in one command, resumable at any step."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.cli import download, gen_answer, gen_api_answer, judge, report, show
from mtbench.cli.common import add_layout_args
from mtbench.cli.flag_scope import FlagScope, FlagTable
from mtbench.core.errors import UserError

if TYPE_CHECKING:
    from mtbench.gen_api_answer import ApiAnswerConfig
    from mtbench.gen_model_answer import GenAnswerRuns
    from mtbench.pipeline import RunConfig

LAYOUT = ("--data-dir", "--bench-name")
# Flags of the two answer commands that mean the same in both (gen-answer's registration is the one run has).
ANSWERS = ("--question-begin", "--question-end", "--per-category", "--num-choices", "--reasoning-tags", "--keep-reasoning")
RUN_OWN = ("--model-id", "--retry-failed", "--no-progress")
# Where two steps' flags share a name but not a meaning, the judging and table side is renamed.
JUDGE_RENAMES = {
    "--parallel": "--judge-parallel",  # gen-api-answer's --parallel: conversations in flight
    "--timeout": "--judge-timeout",
    "--max-retries": "--judge-max-retries",
    "--max-tokens": "--judge-max-tokens",  # gen-api-answer's --max-tokens: the answers' limit
    "--batch-size": "--judge-batch-size",  # gen-answer's --batch-size: prompts per forward batch
}
TABLE_RENAMES = {"--seed": "--bootstrap-seed"}  # gen-answer's --seed: the sampling seeds
TABLE_SHARED = (*LAYOUT, "--judge-model", "--baseline-model", "--model-list", "--mode")

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


@dataclass(frozen=True)
class RunFlags:
    """The scopes of run's flags, one per step (see ``cli.flag_scope``)."""

    local: FlagScope
    api: FlagScope
    judge: FlagScope
    show: FlagScope
    report: FlagScope
    download: FlagScope


def register(sub) -> None:
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
    parser.set_defaults(run=run, flags=add_run_args(parser))


def add_run_args(parser: argparse.ArgumentParser) -> RunFlags:
    """Every step's flags, through the steps' own ``add_*_args``, named as the epilog says."""
    table = FlagTable(parser)
    own: Any = parser.add_argument_group("the run")  # add_layout_args takes it as a parser
    add_layout_args(own)
    table.dests.update({"--data-dir": "data_dir", "--bench-name": "bench_name"})
    table.own("--model-id", nargs="+", metavar="ID", group=own,
              help="the model's name: its answer file's stem, its name in judgments and tables (default: the "
              "--model-path folder's name; --model with '/' as '--'); one per --model-path")
    table.own("--retry-failed", action="store_true", group=own,
              help="redo the answers and the judgments recorded as failed")
    table.own("--no-progress", action="store_true", group=own, help="no progress bars")
    common = (*LAYOUT, *RUN_OWN)
    flags = RunFlags(
        local=table.scope("gen-answer", title="a local model (gen-answer's flags; the slice, --num-choices and "
                          "the reasoning flags apply to --model too)", optional={"--model-path"},
                          shared=common, drop={"--answer-file"}),
        api=table.scope("gen-api-answer", title="a model behind an OpenAI-compatible endpoint (gen-api-answer's flags)",
                        optional={"--model"}, shared=(*common, *ANSWERS), drop={"--answer-file"}),
        judge=table.scope("judge", title="judging (judge's flags)", rename=JUDGE_RENAMES,
                          shared=(*common, "--per-category")),
        show=table.scope("show", title="the tables (show's flags)", rename=TABLE_RENAMES, shared=TABLE_SHARED,
                         drop={"--input-file"}),
        report=table.scope("report", title="the HTML report (report's flags)",
                           rename={**TABLE_RENAMES, "--out": "--report"}, optional={"--out"},
                           shared=(*TABLE_SHARED, "--bootstrap", "--seed")),
        download=table.scope("download", title="the data, fetched when a file is missing (download's flags)",
                             rename={"--timeout": "--download-timeout"}, shared=LAYOUT,
                             drop={"--force", "--pregenerated", "--pregenerated-base-url"}),
    )
    gen_answer.add_gen_answer_args(flags.local)
    gen_api_answer.add_gen_api_answer_args(flags.api)
    judge.add_judge_args(flags.judge)
    show.add_show_args(flags.show)
    report.add_report_args(flags.report)
    download.add_download_args(flags.download)
    return flags


# A judge given without a model: the demo brings its own judge, so such a run is a mistake, not a demo.
JUDGE_CHOICE = {"judge_model": "--judge-model", "judge_model_path": "--judge-model-path",
                "base_url": "--judge-base-url"}


def no_model_flags(args: argparse.Namespace, flags: RunFlags) -> str:
    """Neither --model-path nor --model: the offline demo (``mtbench.pipeline.demo``), the small model the set-up
    installs as model and forced judge, with the demo's small sizes wherever their flags were not given."""
    from mtbench.pipeline import demo

    picked = [flag for dest, flag in JUDGE_CHOICE.items() if flags.judge.given(args, dest)]
    if picked:
        raise UserError(f"{picked[0]} names a judge but no model is given: add --model-path PATH or --model NAME "
                        "--base-url URL (with no model and no judge flags, mtbench run is the offline demo)")
    model = demo.demo_model()
    flags.local.set(args, "model_path", [str(model.folder)])
    flags.local.set(args, "gguf_file", model.gguf_file)
    if not args.model_id:
        args.model_id = [demo.DEMO_MODEL_ID]
    flags.local.set_default(args, "per_category", demo.DEMO_PER_CATEGORY)
    flags.local.set_default(args, "max_new_token", demo.DEMO_MAX_NEW_TOKEN)
    flags.judge.set(args, "judge_model_path", str(model.folder))
    flags.judge.set(args, "judge_gguf_file", model.gguf_file)
    flags.judge.set(args, "force_verdict", True)
    flags.judge.set_default(args, "max_tokens", demo.DEMO_JUDGE_MAX_TOKENS)
    args.demo = True
    return "local"


def model_source(args: argparse.Namespace, flags: RunFlags) -> str:
    """"local" or "api", from the model flags; both, or a bad pairing with --model-id, is a UserError."""
    paths = flags.local.view(args).model_path
    model = flags.api.view(args).model
    if paths and model:
        raise UserError("give --model-path (a local model) or --model (a served one), not both")
    if not paths and not model:
        return no_model_flags(args, flags)
    if model and args.model_id and len(args.model_id) > 1:
        raise UserError(f"--model-id: one id for --model {model}, got {len(args.model_id)}")
    return "local" if paths else "api"


def default_local_id(path: str, gguf_file: str | None) -> str:
    """A local model's id when --model-id is not given: its GGUF file's or its folder's name (a hub id
    as gen-api-answer names an endpoint model)."""
    from mtbench.gen_api_answer import default_model_id

    folder = Path(path)
    if gguf_file:
        return Path(gguf_file).stem
    return folder.resolve().name if folder.exists() else default_model_id(path)


def run_config_from(args: argparse.Namespace) -> RunConfig:
    """The ``RunConfig`` of run's flags: each step's config built by its own command's ``*_config_from``."""
    from mtbench.pipeline import RunConfig

    flags: RunFlags = args.flags
    answers: GenAnswerRuns | ApiAnswerConfig
    if model_source(args, flags) == "local":
        local = flags.local.view(args)
        ids = args.model_id or [default_local_id(p, local.gguf_file) for p in local.model_path]
        with flags.local.errors():
            answers = gen_answer.gen_answer_runs_from(flags.local.view(args, model_id=ids))
    else:
        with flags.api.errors():
            model_id = args.model_id[0] if args.model_id else None
            answers = gen_api_answer.api_answer_config_from(flags.api.view(args, model_id=model_id))
    judge_view = flags.judge.view(args)
    with flags.judge.errors():
        judge_config = judge.judge_config_from(judge_view)
    # The tables and the report read the judge the judging step resolved (its flag may leave it to a default).
    with flags.show.errors():
        show_config = show.show_config_from(flags.show.view(args, judge_model=judge_config.judge_model))
    report_view = flags.report.view(args, judge_model=judge_config.judge_model)
    report_config = report.report_config_from(report_view) if report_view.out is not None else None
    with flags.download.errors():
        download_config = download.download_config_from(flags.download.view(args))
    return RunConfig(download_config, answers, judge_config, show_config, report_config, dry_run=judge_view.dry_run)


def run(args: argparse.Namespace) -> int:
    from mtbench.pipeline import run_pipeline

    config = run_config_from(args)
    banner = None
    if getattr(args, "demo", False):
        from mtbench.pipeline.demo import BANNER, DEMO_FOOTER

        banner = BANNER.format(per_category=args.flags.local.view(args).per_category)
        print(banner + "\n", flush=True)
    outcome = run_pipeline(config, announce=lambda text: print(text, flush=True))
    if outcome.tables is not None:
        show_view = args.flags.show.view(args)
        sys.stdout.flush()
        show.print_show(outcome.tables, show_view.format, show_view.plot)
        print("files:")
        for path in outcome.answer_files:
            print(f"  answers: {path}")
        print(f"  judgments: {outcome.judgment_file}")
        if outcome.report_file is not None:
            print(f"  report: {outcome.report_file}")
    if banner is not None:
        print(f"\n{DEMO_FOOTER}", flush=True)
    return outcome.exit_code
