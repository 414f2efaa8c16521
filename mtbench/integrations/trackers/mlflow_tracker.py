"""MLflow: metrics, the provenance as params, the tables through ``log_table``, the radar through
``log_image``, the judgment file and the results JSON as artifacts. The store is ``MLFLOW_TRACKING_URI``'s
(a server, a database, or a local directory). Inside an active run the result joins it."""

from __future__ import annotations

import contextlib
import os

from mtbench.integrations.trackers import DEFAULT_PROJECT, TrackerConfig, require
from mtbench.integrations.trackers.images import png_array
from mtbench.integrations.trackers.payload import TrackedRun


class MlflowTracker:
    def log(self, run: TrackedRun, config: TrackerConfig) -> str:
        mlflow = require("mlflow", "mlflow")
        active = mlflow.active_run()
        if active is None:
            named = "MLFLOW_EXPERIMENT_NAME" in os.environ or "MLFLOW_EXPERIMENT_ID" in os.environ
            if config.log_project or not named:
                mlflow.set_experiment(config.log_project or DEFAULT_PROJECT)
            started = mlflow.start_run(run_name=run.name)
        with contextlib.nullcontext(active) if active is not None else started as r:
            prefix = "mtbench." if active is not None else ""
            mlflow.log_params({prefix + k: v for k, v in run.params.items()})
            mlflow.log_metrics(dict(run.metrics))
            for name, df in run.tables.items():
                mlflow.log_table(df, artifact_file=f"mtbench/{name}.json")
            if run.radar_png is not None:
                mlflow.log_image(png_array(run.radar_png), artifact_file="mtbench/radar.png")
            mlflow.log_dict(dict(run.summary), "mtbench/results.json")
            if run.judgment_file is not None and run.judgment_file.is_file():
                mlflow.log_artifact(str(run.judgment_file), artifact_path="mtbench")
            return f"run {r.info.run_id} ({mlflow.get_tracking_uri()})"
