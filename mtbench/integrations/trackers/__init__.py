"""Experiment trackers: a show result logged to Weights & Biases, MLflow, TensorBoard or trackio.

One interface (``Tracker``), one implementation per tracker, chosen by name from ``TRACKERS``. Each logs
the same ``TrackedRun`` (``payload``): the scores as metrics, the tables as tables, the radar chart as an
image, the judgment file as an artifact, the provenance as config/params. Each tracker's library is an
optional extra imported only when that tracker is used; where it is missing, one line names the extra.
Each tracker reads its own usual environment variables (``WANDB_MODE``, ``WANDB_PROJECT``,
``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``, ``TRACKIO_DIR``, ...); nothing else from the
environment is read or logged, so an API key never reaches a tracker.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mtbench.core.errors import UserError
from mtbench.core.options import check, option
from mtbench.integrations.trackers.payload import TrackedRun, tracked_run


@dataclass(frozen=True)
class TrackerSpec:
    implementation: str  # "module:Class", imported when the tracker is used
    module: str  # the third-party module it needs
    extra: str  # mtbench's optional extra that installs it


TRACKERS: dict[str, TrackerSpec] = {
    "wandb": TrackerSpec("mtbench.integrations.trackers.wandb_tracker:WandbTracker", "wandb", "wandb"),
    "mlflow": TrackerSpec("mtbench.integrations.trackers.mlflow_tracker:MlflowTracker", "mlflow", "mlflow"),
    "tensorboard": TrackerSpec("mtbench.integrations.trackers.tensorboard_tracker:TensorboardTracker",
                               "tensorboard", "tensorboard"),
    "trackio": TrackerSpec("mtbench.integrations.trackers.trackio_tracker:TrackioTracker", "trackio", "trackio"),
}
DEFAULT_PROJECT = "mtbench"


@dataclass(frozen=True)
class TrackerConfig:
    """Where a result is logged besides the terminal (``show``, ``run``, and ``log_results``)."""

    log_to: tuple[str, ...] = option(
        (), metavar="TRACKER", choices=tuple(TRACKERS),
        help="log the result to these experiment trackers (wandb, mlflow, tensorboard, trackio; each an "
        "optional extra, e.g. pip install 'mtbench[wandb]'), configured by their usual environment variables")
    log_name: str | None = option(None, metavar="NAME", help="the run's name in the trackers",
                                  default_help="mtbench BENCH MODE JUDGE")
    log_project: str | None = option(
        None, metavar="PROJECT", help="the W&B project, MLflow experiment or trackio project",
        default_help=f"the tracker's own variable (WANDB_PROJECT, MLFLOW_EXPERIMENT_NAME), else {DEFAULT_PROJECT}")
    log_dir: Path = option(Path("runs"), metavar="DIR", help="TensorBoard's event files go to DIR/NAME")

    def __post_init__(self) -> None:
        unknown = [t for t in self.log_to if t not in TRACKERS]
        check(not unknown, f"{{log_to}} knows {', '.join(TRACKERS)}; got {', '.join(unknown)}")
        object.__setattr__(self, "log_to", tuple(dict.fromkeys(self.log_to)))  # once each


class Tracker(Protocol):
    """One experiment tracker: logs a run and says where it went (one line)."""

    def log(self, run: TrackedRun, config: TrackerConfig) -> str: ...


def require(module: str, tracker: str) -> Any:
    """``module`` imported, or a one-line UserError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = TRACKERS[tracker].extra
        raise UserError(f"--log-to {tracker} needs the {module} package: pip install 'mtbench[{extra}]'") from None


def tracker(name: str) -> Tracker:
    """The tracker registered as ``name``, its library imported (UserError naming the extra if missing)."""
    if name not in TRACKERS:
        raise UserError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}")
    spec = TRACKERS[name]
    require(spec.module, name)
    module, cls = spec.implementation.split(":")
    return getattr(importlib.import_module(module), cls)()


def log_results(result: Any, trackers: Iterable[str] | None = None, *,
                config: TrackerConfig | None = None) -> dict[str, str]:
    """Log ``result`` (a ``ShowReport`` or a ``TrackedRun``) to each tracker; tracker -> where it went.

    ``trackers`` overrides ``config.log_to``. Every tracker's library is imported before any logs, so a
    missing extra stops the call before a partial log.
    """
    config = config or TrackerConfig()
    names = tuple(trackers) if trackers is not None else config.log_to
    if trackers is not None:
        config = TrackerConfig(log_to=names, log_name=config.log_name, log_project=config.log_project,
                               log_dir=config.log_dir)
    chosen = {name: tracker(name) for name in config.log_to}
    run = result if isinstance(result, TrackedRun) else tracked_run(result, config.log_name)
    # The trackers' own chatter ("Created new run ...") goes to stderr: stdout holds the tables (--format json).
    with contextlib.redirect_stdout(sys.stderr):
        return {name: t.log(run, config) for name, t in chosen.items()}


__all__ = ["TRACKERS", "TrackedRun", "Tracker", "TrackerConfig", "log_results", "tracked_run"]
