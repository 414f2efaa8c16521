"""`mtbench run`'s flags as data: which step config each flag fills, and what the run names differently.

Every step's options come from its own config's declarations (``mtbench.core.options``); run only says,
here, which step holds which config, which flags two steps share (one flag, both fields), which are
renamed where two steps' names collide, which are left out, and which belong to the run itself. A flag
two steps would both add that is declared neither shared nor renamed stops the parser from building
(``steps_parser``), so a new option of a step cannot silently collide under run.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field

from mtbench.cli.options import FlagMap, add_config_options, config_class
from mtbench.core.options import Spelling, declared


@dataclass(frozen=True)
class Step:
    """One step of run: its config (``module:Class``), its flags' section title, renames and omissions."""

    name: str  # the prefix of its fields in run's FlagMap
    config: str
    title: str
    renames: Mapping[str, Spelling] = field(default_factory=dict)  # field path -> run's flag
    skip: tuple[str, ...] = ()  # field paths run fills itself, or that mean nothing in a run
    optional: tuple[str, ...] = ()  # flags required by the command, optional under run

    def config_class(self) -> type:
        return config_class(self.config)


# What every step takes from run itself (RunOptions), never from a flag of its own.
RUN_FILLS = ("retry_failed", "progress")
LAYOUT = ("--data-dir", "--bench-name", "--questions")
# The answer steps' flags that mean the same for a local model and a served one.
ANSWERS = ("--question-begin", "--question-end", "--per-category", "--num-choices", "--reasoning-tags",
           "--keep-reasoning")

STEPS = (
    Step("run", "mtbench.pipeline.options:RunOptions", "the run"),
    Step("local", "mtbench.gen_model_answer.config:GenAnswerJob",
         "a local model (gen-answer's flags; the slice, --num-choices and the reasoning flags apply to --model too)",
         skip=("model_id", "settings.answer_file", *(f"settings.{f}" for f in RUN_FILLS)),
         optional=("--model-path",)),
    Step("api", "mtbench.gen_api_answer:ApiAnswerConfig",
         "a model behind an OpenAI-compatible endpoint (gen-api-answer's flags)",
         skip=("model_id", "answer_file", *RUN_FILLS), optional=("--model",)),
    # Where two steps' flags share a name but not a meaning, the judging and table side is renamed.
    Step("judge", "mtbench.gen_judgment.config:JudgeConfig", "judging (judge's flags)",
         renames={"parallel": "--judge-parallel",  # gen-api-answer's --parallel: conversations in flight
                  "endpoint.timeout": "--judge-timeout", "endpoint.retry.max_retries": "--judge-max-retries",
                  "max_tokens": "--judge-max-tokens",  # gen-api-answer's --max-tokens: the answers' limit
                  "batch_max_requests": "--judge-batch-size"},  # gen-answer's --batch-size: a forward batch
         skip=RUN_FILLS),
    Step("show", "mtbench.show_result:ShowConfig", "the tables (show's flags)",
         renames={"seed": "--bootstrap-seed"},  # gen-answer's --seed: the sampling seeds
         skip=("judgment_file",)),  # the run's judgments are the judge step's
    Step("report", "mtbench.report:ReportConfig", "the HTML report (report's flags)",
         renames={"seed": "--bootstrap-seed", "out": "--report"}, optional=("--report",)),
    Step("download", "mtbench.download:DownloadConfig",
         "the data, fetched when a file is missing (download's flags)",
         renames={"timeout_s": "--download-timeout"}, skip=("force", "pregenerated", "pregenerated_base_url")),
)
# Flags that more than one step adds, with one meaning: the first step's registration is the one shown.
SHARED = frozenset({*LAYOUT, *ANSWERS, "--judge-model", "--baseline-model", "--model-list", "--mode", "--control",
                    "--bootstrap", "--bootstrap-seed", "--format", "--plot", "--dry-run"})


def _flags(step: Step) -> dict[str, str]:
    cls = step.config_class()
    return {d.flag: d.path for d in declared(cls, flags=step.renames)
            if not any(d.path == s or d.path.startswith(s + ".") for s in step.skip)}


def check_collisions(steps: tuple[Step, ...] = STEPS, shared: frozenset[str] = SHARED) -> None:
    """Refuse (ValueError: a bug in this table) a flag two steps add that is neither shared nor renamed."""
    seen: dict[str, str] = {}
    for step in steps:
        for flag in _flags(step):
            if flag in seen and flag not in shared:
                raise ValueError(f"run: {flag} is {seen[flag]}'s and {step.name}'s; declare it shared or rename it")
            seen.setdefault(flag, step.name)


def add_step_options(parser: argparse.ArgumentParser, flag_map: FlagMap, steps: tuple[Step, ...] = STEPS) -> None:
    """Every step's options under its section title, named as ``STEPS`` says."""
    check_collisions(steps)
    for step in steps:
        add_config_options(parser, step.config_class(), flag_map, prefix=f"{step.name}.", renames=step.renames,
                           skip=step.skip, optional=step.optional, title=step.title)


def steps_flag_map(steps: tuple[Step, ...] = STEPS) -> FlagMap:
    """Run's field paths and flags, as ``add_step_options`` lays them out, without a parser (the Python
    API's ``evaluate(**options)`` takes run's flags as keyword arguments)."""
    check_collisions(steps)
    flag_map = FlagMap()
    for step in steps:
        for d in declared(step.config_class(), flags=step.renames):
            if not any(d.path == s or d.path.startswith(s + ".") for s in step.skip):
                flag_map.flags[f"{step.name}.{d.path}"] = d.flag
                flag_map.options[f"{step.name}.{d.path}"] = d
    return flag_map
