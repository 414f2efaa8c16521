"""What produced a judgment, written into its record: the judge the endpoint reported, the prompt file,
the reference set, mtbench's version; and a repeated judgment's sample index and seed (pure but for
hashing the two input files once per run).

The fields live in one ``provenance`` object (and ``sample``/``seed`` at the top level), extra fields
that FastChat's readers ignore. ``mtbench show`` reads them back to refuse tables that would mix judges,
prompts or reference sets (``mtbench.show_result.provenance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mtbench import __version__
from mtbench.core.chat_result import ChatResult
from mtbench.download.pinned import sha256_of as file_sha256
from mtbench.gen_judgment.matches import Match, sample_seed

__all__ = ["RunProvenance", "file_sha256", "sample_fields"]


@dataclass(frozen=True)
class RunProvenance:
    """The run-wide facts behind every judgment of a run (hashed once, when the run loads its inputs)."""

    prompt_file_sha256: str
    reference: str | None = None  # the reference set's name, when any question of the run needs one
    reference_sha256: str | None = None
    version: str = __version__

    def fields(self, match: Match, results: Sequence[ChatResult]) -> dict[str, Any]:
        """The ``provenance`` field of ``match``'s record: the reference only where its prompt had one."""
        reported = next((r.model for r in results if r.model), None)
        fingerprint = next((r.system_fingerprint for r in results if r.system_fingerprint), None)
        out: dict[str, Any] = {"judge_reported_model": reported}
        if fingerprint:
            out["system_fingerprint"] = fingerprint
        out["judge_prompt_sha256"] = self.prompt_file_sha256
        if match.reference is not None:
            out["reference"] = match.reference
            out["reference_sha256"] = self.reference_sha256
        out["mtbench_version"] = self.version
        return {"provenance": out}


def sample_fields(match: Match) -> dict[str, Any]:
    """``sample`` and the ``seed`` it sent, only in a run of several samples (a run of one writes neither)."""
    return {} if match.sample is None else {"sample": match.sample, "seed": sample_seed(match.sample)}
