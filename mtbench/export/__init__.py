"""`mtbench export`: a run's results in two shared forms, and optionally on the Hugging Face Hub.

``results.json`` (schema ``mtbench-results/1``): per model the score with its confidence interval, the
per-turn and per-category scores (single) or win rates (pairwise), and the provenance of the judgments;
one file a leaderboard ingests. ``details.parquet``: one row per judgment (question, answers, judge
prompt and reply, score), written through ``datasets``. ``--push-to-hub REPO`` uploads both and a dataset
card with ``huggingface_hub`` (private unless ``--public``; the token is the library's: ``HF_TOKEN`` or
the cached login, never written anywhere by mtbench).
"""

from __future__ import annotations

from mtbench.export.config import ExportConfig, ExportResult
from mtbench.export.writer import export

__all__ = ["ExportConfig", "ExportResult", "export"]
