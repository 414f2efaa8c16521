"""`mtbench run`'s flags -> its ``RunConfig``: the one place run's options become its steps' configs.

The command line (``mtbench.cli.run``) hands over what argparse parsed; the Python API
(``mtbench.evaluate(**options)``) hands over its keyword arguments named as run's flags. Both get the same
configs, the same checks and the same one-line errors naming the option as its user spelled it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.cli.options import FlagMap, given
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError, build

if TYPE_CHECKING:
    from mtbench.pipeline.config import RunConfig


def _step(name: str, config: type, values: Mapping[str, Any]) -> Any:
    """Step ``name``'s config from ``values``; its errors name the fields as run's flags."""
    try:
        return build(config, values)
    except ConfigError as e:
        raise e.within(name) from e.__cause__


# A judge given without a model: the demo brings its own judge, so such a run is a mistake, not a demo.
JUDGE_CHOICE = ("judge_model", "local.path", "endpoint.base_url")


def demo_values(local: dict[str, Any], judge: dict[str, Any], flag_map: FlagMap) -> tuple[str, ...]:
    """Neither --model-path nor --model: the offline demo (``mtbench.pipeline.demo``), the small model the set-up
    installs as model and forced judge, with the demo's small sizes wherever their flags were not given.
    Fills ``local`` and ``judge`` in place; returns the demo's model ids."""
    from mtbench.pipeline import demo

    picked = [flag_map.flag(f"judge.{path}") for path in JUDGE_CHOICE if path in judge]
    if picked:
        raise UserError(f"{picked[0]} names a judge but no model is given: add --model-path PATH or --model NAME "
                        "--base-url URL (with no model and no judge flags, mtbench run is the offline demo)")
    model = demo.demo_model()
    local.update({"model_path": (str(model.folder),), "settings.model.gguf_file": model.gguf_file})
    local.setdefault("settings.per_category", demo.DEMO_PER_CATEGORY)
    judge.setdefault("per_category", local["settings.per_category"])
    local.setdefault("settings.answers.max_new_token", demo.DEMO_MAX_NEW_TOKEN)
    judge.update({"local.path": str(model.folder), "local.gguf_file": model.gguf_file, "force_verdict": True})
    judge.setdefault("max_tokens", demo.DEMO_JUDGE_MAX_TOKENS)
    return (demo.DEMO_MODEL_ID,)


def default_local_id(path: str, gguf_file: str | None) -> str:
    """A local model's id when --model-id is not given: its GGUF file's or its folder's name (a hub id
    as gen-api-answer names an endpoint model)."""
    from mtbench.gen_api_answer import default_model_id

    folder = Path(path)
    if gguf_file:
        return Path(gguf_file).stem
    return folder.resolve().name if folder.exists() else default_model_id(path)


def run_config_from(typed: Mapping[str, Any], flag_map: FlagMap) -> RunConfig:
    """The ``RunConfig`` of run's flags (``typed``: flag -> value, as given): each step's config built
    from its own flags (``mtbench.cli.run_steps``)."""
    from mtbench.download import DownloadConfig
    from mtbench.gen_api_answer import ApiAnswerConfig
    from mtbench.gen_judgment.config import JudgeConfig
    from mtbench.gen_model_answer.config import GenAnswerJob
    from mtbench.pipeline import RunConfig
    from mtbench.pipeline.options import RunOptions
    from mtbench.report import ReportConfig
    from mtbench.show_result import ShowConfig

    own: RunOptions = _step("run", RunOptions, given(typed, flag_map, "run."))
    fills = {"retry_failed": own.retry_failed, "progress": own.progress}
    local, api, judge = (given(typed, flag_map, f"{step}.") for step in ("local", "api", "judge"))
    ids = own.model_id
    if "model_path" in local and "model" in api:
        raise UserError("give --model-path (a local model) or --model (a served one), not both")
    if "model_path" not in local and "model" not in api:
        ids = ids or demo_values(local, judge, flag_map)
    answers: Any
    if "model_path" in local:
        paths = local["model_path"]
        ids = ids or tuple(default_local_id(p, local.get("settings.model.gguf_file")) for p in paths)
        settings = {f"settings.{k}": v for k, v in fills.items()}
        answers = _step("local", GenAnswerJob, {**local, **settings, "model_id": ids})
        try:
            answers = answers.runs()
        except ConfigError as e:
            raise e.within("local") from None
    else:
        if ids and len(ids) > 1:
            raise UserError(f"--model-id: one id for --model {api['model']}, got {len(ids)}")
        answers = _step("api", ApiAnswerConfig, {**api, **fills, **({"model_id": ids[0]} if ids else {})})
    judge_config = _step("judge", JudgeConfig, {**judge, **fills})
    # The tables and the report read the judge the judging step resolved (its flag may leave it to a default).
    resolved = {"judge_model": judge_config.judge_model}
    show_config = _step("show", ShowConfig, {**given(typed, flag_map, "show."), **resolved})
    report = given(typed, flag_map, "report.")
    report_config = _step("report", ReportConfig, {**report, **resolved}) if "out" in report else None
    download_config = _step("download", DownloadConfig, given(typed, flag_map, "download."))
    return RunConfig(download_config, answers, judge_config, show_config, report_config,
                     dry_run=judge_config.dry_run)
