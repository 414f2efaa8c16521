"""The options `mtbench run` has of its own, beside its steps' (see ``mtbench.cli.run_steps``)."""

from __future__ import annotations

from dataclasses import dataclass

from mtbench.core.bench import BenchLayout
from mtbench.core.options import nested, option


@dataclass(frozen=True)
class RunOptions:
    """What applies to the whole run: where the data is, the models' names, and what every step shares."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    model_id: tuple[str, ...] | None = option(
        None, metavar="ID", help="the model's name: its answer file's stem, its name in judgments and tables; one "
        "per --model-path", default_help="the --model-path folder's name; --model with '/' as '--'")
    retry_failed: bool = option(False, help="redo the answers and the judgments recorded as failed")
    progress: bool = option(True, flag="--no-progress", help="no progress bars")
