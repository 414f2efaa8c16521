"""`mtbench repair`: set aside the lines of an answer, judgment or question file that are not records."""

from __future__ import annotations

import argparse

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.repair:RepairConfig"

def register(sub) -> argparse.ArgumentParser:
    from mtbench.repair import SIDE_SUFFIX

    parser = sub.add_parser(
        "repair",
        help="set aside the bad lines of a record file (e.g. a torn line left by a killed run) so it reads again",
        description=(
            "Move every line of FILE that is not a valid record of its kind, byte for byte, to "
            f"FILE{SIDE_SUFFIX} beside it (appended; no *.jsonl glob reads it), and rewrite FILE atomically "
            "with the remaining lines unchanged. Holds FILE's run lock, so it refuses to run while a judge or "
            "answer run writes the same file. The kind comes from FastChat's layout: model_answer/*.jsonl and "
            "reference_answer/*.jsonl are answers, *_single.jsonl and *_pair.jsonl judgments, question.jsonl "
            "questions, judge_prompts.jsonl judge prompts; --kind says it for any other name."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.repair import repair

    for outcome in repair(command_config(args)):
        for line in outcome.bad:
            print(f"{outcome.path}:{line.number}: {line.reason}")
        count = f"{len(outcome.bad)} line{'s' if len(outcome.bad) != 1 else ''}"
        if not outcome.bad:
            print(f"{outcome.path}: all {outcome.kept} lines are {outcome.record_name} records; nothing to repair")
        elif outcome.written:
            print(f"{outcome.path}: set {count} aside in {outcome.side_file}; {outcome.kept} records kept")
        else:
            print(f"{outcome.path}: would set {count} aside in {outcome.side_file}; {outcome.kept} records would "
                  "stay (dry run: nothing written)")
    return 0
