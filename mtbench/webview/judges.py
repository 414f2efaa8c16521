"""Which judges a bench folder has: their judgment files, their names, and the one a page opens on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_JUDGE_MODEL, BenchLayout, judge_file_stem
from mtbench.core.errors import UserError

SINGLE_SUFFIX = "_single"
PAIR_SUFFIX = "_pair"


@dataclass(frozen=True)
class JudgeFiles:
    """The judgment files one judge model has in the bench's model_judgment folder.

    ``judge`` is the name the records hold (``/path/to/smol-hf``), ``stem`` the one in the file names
    (``__path__to__smol-hf``); they are the same for every name without a slash.
    """

    judge: str
    single: Path | None = None
    pair: Path | None = None
    stem: str = ""

    def __post_init__(self) -> None:
        if not self.stem:
            object.__setattr__(self, "stem", judge_file_stem(self.judge))


def recorded_judge(path: Path, stem: str) -> str:
    """The judge name the file's first record holds, when it maps to the file's stem; else the stem.

    ``judge_file_stem`` cannot be inverted (a real name may contain ``__``), so the name comes from the
    records; a file renamed by hand (its records naming another judge) keeps the name on the file.
    """
    try:
        with path.open("rb") as f:
            for raw in f:
                if raw.strip():
                    name = json.loads(raw)["judge"][0]
                    return name if isinstance(name, str) and judge_file_stem(name) == stem else stem
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pass  # an unreadable file is reported, with its line, when it is loaded
    return stem


def find_judges(layout: BenchLayout) -> dict[str, JudgeFiles]:
    """Every judge with a ``STEM_single.jsonl`` or ``STEM_pair.jsonl``, by the judge's name."""
    found: dict[str, dict[str, Path]] = {}
    if layout.judgment_dir.is_dir():
        for path in sorted(layout.judgment_dir.glob("*.jsonl")):
            for suffix, kind in ((SINGLE_SUFFIX, "single"), (PAIR_SUFFIX, "pair")):
                if path.stem.endswith(suffix) and len(path.stem) > len(suffix):
                    found.setdefault(path.stem[: -len(suffix)], {})[kind] = path
    judges = {}
    for stem, files in sorted(found.items()):
        name = recorded_judge(files.get("single") or files["pair"], stem)
        judges[name] = JudgeFiles(name, files.get("single"), files.get("pair"), stem)
    return dict(sorted(judges.items()))


def select_judges(layout: BenchLayout, judge_model: str | None) -> dict[str, JudgeFiles]:
    """The judges to show: the one ``--judge-model`` names (by name or file stem, which must have a file),
    or all found."""
    judges = find_judges(layout)
    if judge_model is None:
        return judges
    single = layout.single_judgment_file(judge_model)  # rejects names that cannot be file names
    stem = judge_file_stem(judge_model)
    for files in judges.values():
        if judge_model == files.judge or stem == files.stem:
            return {files.judge: files}
    have = ", ".join(judges) or "none"
    raise UserError(
        f"--judge-model {judge_model}: no {single} or {layout.pair_judgment_file(judge_model).name} "
        f"(judges found: {have}); create them with `mtbench judge --judge-model {judge_model}`"
    )


def default_judge(valid_judgments: Mapping[str, int]) -> str | None:
    """The judge a page opens on: gpt-4 when it has valid judgments, else the first judge that has any,
    else the first judge (``valid_judgments``: judge -> its number of valid judgments, in page order)."""
    if valid_judgments.get(DEFAULT_JUDGE_MODEL, 0) > 0:
        return DEFAULT_JUDGE_MODEL
    with_valid = [j for j, n in valid_judgments.items() if n > 0]
    return next(iter(with_valid or valid_judgments), None)
