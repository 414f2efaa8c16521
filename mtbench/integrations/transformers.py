"""``MTBenchCallback``: MT-bench scores of the checkpoints a ``transformers.Trainer`` saves, in its own log.

On the schedule given (every N saves, and/or once at the end of training) the checkpoint just saved is
evaluated by ``mtbench.evaluate`` in a fresh Python process (``mtbench.integrations.worker``), so the
trainer's memory and GPU are left as they are; the answers come from that process's engine (``engine``,
``device``: ``mtbench run``'s options) or from a served endpoint (``endpoint``), the judge as configured.
The scores go through ``Trainer.log``, so every reporter of ``report_to`` (TensorBoard, W&B, MLflow, ...)
gets them at the checkpoint's step. A failed evaluation (a refused judge, a crash, a timeout) is logged as
``PREFIX/failed = 1`` with a warning naming the reason; training goes on.

The trainer is found when the callback first runs (the Trainer that called it); ``attach(trainer)`` names
it explicitly. This module imports ``transformers`` (a core dependency); ``import mtbench`` does not.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from mtbench.api.options import check_run_keywords

log = logging.getLogger("mtbench")

# Filled by the callback from each checkpoint; refused as options.
FILLED = ("model_path", "model_id")


class EvaluationFailed(Exception):
    """One checkpoint's evaluation did not produce scores (logged, never raised into the trainer)."""


@dataclass(frozen=True)
class CheckpointResult:
    """One evaluated checkpoint: its step, folder and model id, and its metrics or the reason it failed."""

    step: int
    checkpoint: Path
    model_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


class MTBenchCallback(TrainerCallback):
    """Evaluate saved checkpoints with MT-bench and log the scores to the Trainer's log.

    ``every_n_saves``: evaluate every Nth save (None: none); ``at_end``: evaluate the last checkpoint when
    training ends (once, where the schedule has not already). ``options``: ``mtbench.evaluate``'s keyword
    arguments (``mtbench run``'s flags: ``judge_model``, ``judge_base_url``, ``per_category``, ``data_dir``,
    ``device``, ``max_new_token``, ...), checked here. ``endpoint``: for answers from a server instead of a
    local engine, called with the checkpoint folder, returns ``{"model": ..., "base_url": ...}`` (after
    the caller made the server serve it). ``model_id``: the answers' name, ``{run}`` (the output folder's
    name) and ``{step}`` filled in. ``timeout_s``: an evaluation running longer is stopped and logged as
    failed. ``prefix``: the metrics' prefix (``mtbench/score``, ``mtbench/turn_1``, ``mtbench/category/NAME``).
    """

    def __init__(self, *, every_n_saves: int | None = 1, at_end: bool = False, prefix: str = "mtbench",
                 model_id: str = "{run}-step{step}", timeout_s: float | None = None,
                 endpoint: Callable[[str], Mapping[str, Any]] | None = None, trainer: Trainer | None = None,
                 **options: Any):
        if every_n_saves is not None and every_n_saves < 1:
            raise ValueError(f"every_n_saves must be at least 1 (or None), got {every_n_saves}")
        filled = [k for k in FILLED if k in options]
        if filled:
            raise ValueError(f"{filled[0]}: the callback fills it from each checkpoint")
        check_run_keywords(options)  # a misspelt option stops here, before training, not at the first save
        self.every_n_saves = every_n_saves
        self.at_end = at_end
        self.prefix = prefix
        self.model_id = model_id
        self.timeout_s = timeout_s
        self.endpoint = endpoint
        self.options = dict(options)
        self.trainer = trainer
        self.results: list[CheckpointResult] = []  # every evaluation so far, in order
        self._saves = 0

    def attach(self, trainer: Trainer) -> MTBenchCallback:
        """Add this callback to ``trainer`` and log through it."""
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    # -- the Trainer's events ----------------------------------------------------------------------------

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self._saves += 1
        if self.every_n_saves is not None and self._saves % self.every_n_saves == 0:
            self._evaluate(args, state)

    def on_train_end(self, args, state, control, **kwargs):
        if not (self.at_end and state.is_world_process_zero):
            return
        if any(r.step == state.global_step for r in self.results):
            return
        self._evaluate(args, state)

    # -- evaluating one checkpoint -------------------------------------------------------------------------

    def _evaluate(self, args, state) -> None:
        step = state.global_step
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{step}"
        model_id = self.model_id.format(run=Path(args.output_dir).name, step=step)
        try:
            if not checkpoint.is_dir():
                raise EvaluationFailed(f"no checkpoint at {checkpoint} (step {step} was not saved)")
            metrics = self.evaluate_checkpoint(checkpoint, model_id)
            result = CheckpointResult(step, checkpoint, model_id, metrics)
        except Exception as e:  # never into the trainer: a failed evaluation is a logged value
            log.warning("mtbench: evaluation of %s failed: %s; training goes on", checkpoint, e)
            result = CheckpointResult(step, checkpoint, model_id, {f"{self.prefix}/failed": 1.0}, str(e))
        self.results.append(result)
        try:
            self._log(state, dict(result.metrics))
        except Exception as e:  # a reporter that fails on our metrics must not stop training either
            log.warning("mtbench: logging the scores of %s failed: %s", checkpoint, e)

    def evaluate_checkpoint(self, checkpoint: Path, model_id: str) -> dict[str, float]:
        """``checkpoint``'s metrics, from ``mtbench.evaluate`` in a fresh process (EvaluationFailed if none)."""
        source = dict(self.endpoint(str(checkpoint))) if self.endpoint else {"model_path": str(checkpoint)}
        request = {"options": {**self.options, **source, "model_id": model_id}, "model_id": model_id,
                   "prefix": self.prefix}
        with tempfile.TemporaryDirectory(prefix="mtbench-callback-") as tmp:
            request_file, result_file = Path(tmp) / "request.json", Path(tmp) / "result.json"
            request_file.write_text(json.dumps(request, default=str))
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "mtbench.integrations.worker", str(request_file), str(result_file)],
                    capture_output=True, text=True, timeout=self.timeout_s, env=os.environ.copy(),
                )
            except subprocess.TimeoutExpired:
                raise EvaluationFailed(f"stopped after {self.timeout_s:g}s (timeout_s)") from None
            if not result_file.is_file():
                last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
                raise EvaluationFailed(f"the evaluation process failed: {last}")
            result = json.loads(result_file.read_text())
        if "error" in result:
            raise EvaluationFailed(result["error"])
        return {k: float(v) for k, v in result["metrics"].items()}

    # -- logging ---------------------------------------------------------------------------------------------

    def _log(self, state, metrics: dict[str, float]) -> None:
        trainer = self.trainer or _calling_trainer()
        if trainer is not None:
            self.trainer = trainer
            trainer.log(metrics)  # the Trainer's log: log_history and every report_to reporter
            return
        log.warning("mtbench: no Trainer found to log through (use MTBenchCallback.attach(trainer)); the scores "
                    "are in state.log_history only")
        state.log_history.append({**metrics, "step": state.global_step})


def _calling_trainer() -> Trainer | None:
    """The Trainer whose event called this callback: a ``self`` up the call stack (the callback handler is
    called from the Trainer's own methods)."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Trainer):
            return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None
