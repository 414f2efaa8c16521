"""trackio: metrics, ``trackio.Table``s, the radar as ``trackio.Image``, the judgment file as an artifact,
the provenance as the run's config, in trackio's local store (``TRACKIO_DIR``) or where its variables
send it (``TRACKIO_SPACE_ID``, ``TRACKIO_SERVER_URL``)."""

from __future__ import annotations

from mtbench.integrations.trackers import DEFAULT_PROJECT, TrackerConfig, require
from mtbench.integrations.trackers.images import png_array
from mtbench.integrations.trackers.payload import TrackedRun


class TrackioTracker:
    def log(self, run: TrackedRun, config: TrackerConfig) -> str:
        trackio = require("trackio", "trackio")
        project = config.log_project or DEFAULT_PROJECT
        trackio.init(project=project, name=run.name, config=dict(run.params), embed=False,
                     auto_log_gpu=False, auto_log_cpu=False)
        try:
            logged: dict[str, object] = {**run.metrics}
            logged.update({name: trackio.Table(dataframe=df) for name, df in run.tables.items()})
            if run.radar_png is not None:
                logged["radar"] = trackio.Image(png_array(run.radar_png), caption="MT-bench score by category")
            trackio.log(logged)
            if run.judgment_file is not None and run.judgment_file.is_file():
                trackio.log_artifact(str(run.judgment_file), name="mtbench-judgments", type="judgments")
        finally:
            trackio.finish()
        return f"project {project}, run {run.name}"
