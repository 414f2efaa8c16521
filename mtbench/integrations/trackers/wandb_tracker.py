"""Weights & Biases: metrics and summary, ``wandb.Table``s, the radar as ``wandb.Image``, the judgment file
as an artifact, the provenance as the run's config. ``WANDB_MODE=offline`` writes the run locally only.
Inside an active run (a training script's) the result joins that run instead of starting one."""

from __future__ import annotations

import os

from mtbench.integrations.trackers import DEFAULT_PROJECT, TrackerConfig, require
from mtbench.integrations.trackers.images import png_array
from mtbench.integrations.trackers.payload import TrackedRun


class WandbTracker:
    def log(self, run: TrackedRun, config: TrackerConfig) -> str:
        wandb = require("wandb", "wandb")
        active = wandb.run
        r = active or wandb.init(
            project=config.log_project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
            name=run.name, job_type="eval", config=dict(run.params))
        if active is not None:
            r.config.update({f"mtbench/{k}": v for k, v in run.params.items()}, allow_val_change=True)
        logged: dict[str, object] = {**run.metrics}
        logged.update({name: wandb.Table(dataframe=df) for name, df in run.tables.items()})
        if run.radar_png is not None:
            logged["radar"] = wandb.Image(png_array(run.radar_png), caption="MT-bench score by category")
        r.log(logged)
        if run.judgment_file is not None and run.judgment_file.is_file():
            artifact = wandb.Artifact("mtbench-judgments", type="judgments", metadata=dict(run.params))
            artifact.add_file(str(run.judgment_file))
            r.log_artifact(artifact)
        where = r.url or r.dir
        if active is None:
            r.finish()
        return f"run {r.name} ({where})"
