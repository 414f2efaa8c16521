"""Where a table's judgments came from, as one line, and a refusal when one table would mix sources (pure).

A judgment written by ``mtbench judge`` carries a ``provenance`` object (``gen_judgment.provenance``): the
judge model the endpoint reported, its ``system_fingerprint``, the judge prompt file's sha256, the
reference set and its sha256, mtbench's version. Two judge snapshots, prompt files or reference sets in one
table make numbers that do not compare, so ``show`` refuses them unless told otherwise (``--allow-mixed``).
A record without provenance (FastChat's, or ours before it) is "unknown": counted, never a conflict. The
fingerprint is listed but not refused: OpenAI's changes between requests of one snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment, SingleJudgment

UNKNOWN = "unknown"


@dataclass(frozen=True)
class TableProvenance:
    """What produced one table's judgments: each source with how many records name it."""

    judges: Mapping[str, int] = field(default_factory=dict)  # reported judge model -> records
    fingerprints: Mapping[str, int] = field(default_factory=dict)
    prompt_files: Mapping[str, int] = field(default_factory=dict)  # sha256 -> records
    references: Mapping[str, int] = field(default_factory=dict)  # "name (sha256 prefix)" -> records
    versions: Mapping[str, int] = field(default_factory=dict)
    unknown: int = 0  # records without provenance

    def describe(self) -> str:
        """One line: judges, prompt file hash, reference set (and fingerprints, versions, unknown records)."""

        def listed(counts: Mapping[str, int], short: bool = False) -> str:
            return ", ".join((k[:12] if short else k) for k in sorted(counts)) or UNKNOWN

        parts = [f"judge {listed(self.judges)}"]
        if self.fingerprints:
            parts.append(f"fingerprint {listed(self.fingerprints)}")
        parts.append(f"prompts sha256 {listed(self.prompt_files, short=True)}")
        parts.append(f"reference {listed(self.references) if self.references else 'none recorded'}")
        if self.versions:
            parts.append(f"mtbench {listed(self.versions)}")
        if self.unknown:
            parts.append(f"{self.unknown} judgment(s) without provenance")
        return "provenance: " + "; ".join(parts)

    def conflict(self) -> str | None:
        """The first mix that makes the table's numbers incomparable, naming two differing values; or None."""
        for what, counts in (("judge snapshots", self.judges), ("judge prompt files (sha256)", self.prompt_files),
                             ("reference sets", self.references)):
            if len(counts) > 1:
                (a, n_a), (b, n_b) = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
                return f"{what} {a} ({n_a} judgments) and {b} ({n_b})"
        return None


def _reference(p: Mapping[str, Any]) -> str | None:
    name = p.get("reference")
    if not isinstance(name, str):
        return None
    sha = p.get("reference_sha256")
    return f"{name} ({sha[:12]})" if isinstance(sha, str) else name


def table_provenance(judgments: Iterable[SingleJudgment | PairJudgment]) -> TableProvenance:
    """Count each source the records name; a record with no ``provenance`` object counts as unknown."""
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("judges", "fingerprints", "prompts", "refs", "versions")}
    unknown = 0
    for j in judgments:
        p = j.extra.get("provenance")
        if not isinstance(p, dict):
            unknown += 1
            continue
        for key, where in (("judge_reported_model", "judges"), ("system_fingerprint", "fingerprints"),
                           ("judge_prompt_sha256", "prompts"), ("mtbench_version", "versions")):
            if isinstance(p.get(key), str):
                counts[where][p[key]] += 1
        ref = _reference(p)
        if ref is not None:
            counts["refs"][ref] += 1
    return TableProvenance(
        judges=dict(counts["judges"]), fingerprints=dict(counts["fingerprints"]),
        prompt_files=dict(counts["prompts"]), references=dict(counts["refs"]), versions=dict(counts["versions"]),
        unknown=unknown,
    )


def check_mixed(provenance: TableProvenance, where: str, *, allow_mixed: bool) -> str | None:
    """Refuse (UserError, one line) a table that mixes sources; with ``allow_mixed``, the warning to show."""
    conflict = provenance.conflict()
    if conflict is None:
        return None
    if not allow_mixed:
        raise UserError(
            f"{where}: one table would mix {conflict}: such scores do not compare; "
            "show them apart (--model-list, --input-file) or pass --allow-mixed"
        )
    return f"WARNING: this table mixes {conflict} (--allow-mixed): its scores do not compare"
