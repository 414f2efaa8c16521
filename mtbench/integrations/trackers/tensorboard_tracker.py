"""TensorBoard: scalars, the tables and the provenance as Markdown text, the radar as an image, in one event
file under ``--log-dir``/NAME. Written with tensorboard's own ``EventFileWriter`` and summary protos (no
TensorFlow, no torch import). TensorBoard has no artifact store: the judgment file is copied beside it."""

from __future__ import annotations

import json
import re
import shutil
import time
from typing import Any

from mtbench.integrations.trackers import TrackerConfig, require
from mtbench.integrations.trackers.images import markdown_table, png_array
from mtbench.integrations.trackers.payload import TrackedRun


def run_dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "mtbench"


def _text(tag: str, text: str) -> Any:
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.compat.proto.types_pb2 import DT_STRING
    from tensorboard.plugins.text.metadata import create_summary_metadata

    tensor = TensorProto(dtype=DT_STRING, string_val=[text.encode()],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary.Value(tag=tag, metadata=create_summary_metadata(tag, ""), tensor=tensor)


class TensorboardTracker:
    def log(self, run: TrackedRun, config: TrackerConfig) -> str:
        require("tensorboard", "tensorboard")
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        values = [Summary.Value(tag=key, simple_value=value) for key, value in run.metrics.items()]
        values += [_text(f"tables/{name}", markdown_table(df)) for name, df in run.tables.items()]
        values.append(_text("provenance", "```\n" + json.dumps(dict(run.params), indent=2) + "\n```"))
        if run.radar_png is not None:
            height, width, _ = png_array(run.radar_png).shape
            image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=run.radar_png)
            values.append(Summary.Value(tag="radar", image=image))
        log_dir = config.log_dir / run_dir_name(run.name)
        writer = EventFileWriter(str(log_dir))
        try:
            writer.add_event(Event(wall_time=time.time(), step=0, summary=Summary(value=values)))
        finally:
            writer.close()
        if run.judgment_file is not None and run.judgment_file.is_file():
            shutil.copy2(run.judgment_file, log_dir / run.judgment_file.name)
        return str(log_dir)
