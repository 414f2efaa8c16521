"""Reading back a W&B offline run: its ``run-ID.wandb`` file, record by record.

wandb 0.19+ moved its reader into the Go core (``wandb.sdk.internal.datastore`` is gone), so this is the
file format, read here: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then LevelDB's log format
(32 KiB blocks of chunks, each ``crc32 | length | type`` then data; a record spans FIRST..LAST chunks),
each record a ``wandb_internal_pb2.Record`` protobuf, parsed with wandb's own message class.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    assert data[:4] == b":W&B", "not a W&B run file"
    pos = HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        yield kind, data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length


def records(path: Path) -> Iterator[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    pending = b""
    for kind, chunk in _chunks(path.read_bytes()):
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def finished_records(path: Path, timeout: float = 30.0) -> list[Any]:
    """Every record, once the run's ``exit`` record is there: wandb-core writes the file in its own process,
    and ``finish()`` may return before the last records are on disk."""
    deadline = time.monotonic() + timeout
    while True:
        got = list(records(path))
        if any(r.WhichOneof("record_type") == "exit" for r in got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def offline_run(wandb_dir: Path) -> dict[str, Any]:
    """The run's config, history rows, summary and logged artifacts, as plain values."""
    (path,) = sorted(wandb_dir.glob("wandb/offline-run-*/run-*.wandb"))
    out: dict[str, Any] = {"config": {}, "history": [], "summary": {}, "artifacts": [], "file": path, "kinds": []}
    for r in finished_records(path):
        kind = r.WhichOneof("record_type")
        out["kinds"].append(kind)
        if kind in ("config", "run"):
            for item in (r.config if kind == "config" else r.run.config).update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "history":
            out["history"].append({"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item})
        elif kind == "summary":
            for item in r.summary.update:
                out["summary"]["/".join(item.nested_key) or item.key] = json.loads(item.value_json)
        elif kind == "artifact":
            out["artifacts"].append({"name": r.artifact.name, "type": r.artifact.type,
                                     "files": [e.path for e in r.artifact.manifest.contents]})
    return out
