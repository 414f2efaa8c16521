"""A benchmark's description of itself: its judge prompts, categories, references, temperatures, turns, language.

Every command reads the bench's facts from here and never from its name. The known benches ship a manifest
as package data (``mtbench/benches/NAME.json``); a user's bench folder may hold its own ``bench.json``
(it wins over a shipped one of the same name); a folder with neither gets ``DEFAULT`` (FastChat's prompt
names, temperature 0.7 for every category, no reference). The format is documented in
docs/reference/benchmarks.md; ``parse_manifest`` is its one reader and names the file in each error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mtbench.core.errors import UserError

MANIFEST_NAME = "bench.json"  # a user's own manifest, inside the bench folder
DEFAULT_TEMPERATURE = 0.7
DEFAULT_JUDGE_PROMPTS = "judge_prompts.jsonl"
DEFAULT_QUESTION_FILE = "question.jsonl"

# The four prompt slots of a judgment kind: (needs a reference, turn 1 or a later turn) -> manifest key.
PROMPT_SLOTS = {
    (False, 1): "general",
    (True, 1): "reference",
    (False, 2): "general_multi_turn",
    (True, 2): "reference_multi_turn",
}
# FastChat's prompt names (judge_prompts.jsonl): the default of a manifest that names none.
FASTCHAT_PROMPTS: Mapping[str, Mapping[str, str]] = {
    "single": {"general": "single-v1", "reference": "single-math-v1",
               "general_multi_turn": "single-v1-multi-turn", "reference_multi_turn": "single-math-v1-multi-turn"},
    "pair": {"general": "pair-v2", "reference": "pair-math-v1",
             "general_multi_turn": "pair-v2-multi-turn", "reference_multi_turn": "pair-math-v1-multi-turn"},
}


@dataclass(frozen=True)
class Category:
    temperature: float = DEFAULT_TEMPERATURE
    reference: bool = False  # judged against a reference answer, with the reference prompt


@dataclass(frozen=True)
class RemoteFile:
    """One file ``mtbench download`` fetches: its path under DATA_DIR, and where it lives upstream."""

    path: str
    repository: str  # owner/name on GitHub
    commit: str
    remote: str  # path inside the repository
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str = ""
    judge_prompts: str = DEFAULT_JUDGE_PROMPTS  # a file name in DATA_DIR, beside judge_prompts.jsonl
    question_file: str = DEFAULT_QUESTION_FILE  # the default question file in the bench folder
    categories: Mapping[str, Category] = field(default_factory=dict)  # in display order
    default_temperature: float = DEFAULT_TEMPERATURE
    references: tuple[str, ...] = ()  # the reference sets it ships (reference_answer/NAME.jsonl)
    default_reference: str = "gpt-4"
    judged_turns: tuple[int, ...] | None = None  # None: every turn of every question
    prompts: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: FASTCHAT_PROMPTS)
    language: str | None = None  # ISO 639-1 code of the language answers should be in
    downloads: tuple[RemoteFile, ...] = ()
    source: str = "default"  # where this manifest was read from, for messages

    def category(self, name: str) -> Category:
        """A category's facts; one the manifest does not name gets the documented defaults."""
        return self.categories.get(name) or Category(self.default_temperature, False)

    def temperature(self, category: str) -> float:
        return self.category(category).temperature

    def needs_reference(self, category: str) -> bool:
        return self.category(category).reference

    def judges_pairs(self) -> bool:
        return "pair" in self.prompts

    def prompt_name(self, kind: str, category: str, turn: int) -> str:
        """The judge prompt of a judgment ``kind`` (single, pair) for a category's turn."""
        slot = PROMPT_SLOTS[(self.needs_reference(category), 1 if turn == 1 else 2)]
        try:
            return self.prompts[kind][slot]
        except KeyError:
            raise UserError(f"{self.source}: the {self.name} bench has no {kind} prompt for {slot.replace('_', ' ')} "
                            f"(category {category}, turn {turn})") from None

    def judges_turn(self, turn: int) -> bool:
        return self.judged_turns is None or turn in self.judged_turns

    def category_order(self) -> tuple[str, ...]:
        return tuple(self.categories)


DEFAULT = Manifest(name="", source="the default manifest")


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    value = obj.get(key, default)
    if value is not default and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserError(f"{where}: field '{key}' must be a {names}, got {json.dumps(value)}")
    return value


def parse_manifest(text: str, where: str, default_name: str = "") -> Manifest:
    """A manifest from its JSON text; every problem is one UserError naming ``where`` (and the line for JSON)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{where}: a manifest is a JSON object")
    known = {"name", "description", "judge_prompts", "question_file", "categories", "default_temperature",
             "references", "default_reference", "judged_turns", "prompts", "language", "downloads"}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise UserError(f"{where}: unknown field '{unknown[0]}' (fields: {', '.join(sorted(known))})")
    default_temperature = float(_get(obj, "default_temperature", (int, float), where, DEFAULT_TEMPERATURE))
    categories: dict[str, Category] = {}
    for name, spec in _get(obj, "categories", dict, where, {}).items():
        if not isinstance(spec, dict) or set(spec) - {"temperature", "reference"}:
            raise UserError(f"{where}: category '{name}' must be an object with 'temperature' and/or 'reference'")
        inner = f"{where}: category '{name}'"
        categories[name] = Category(float(_get(spec, "temperature", (int, float), inner, default_temperature)),
                                    _get(spec, "reference", bool, inner, False))
    prompts = _get(obj, "prompts", dict, where, None)
    if prompts is not None:
        for kind, table in prompts.items():
            if kind not in FASTCHAT_PROMPTS or not isinstance(table, dict) or set(table) - set(PROMPT_SLOTS.values()) \
                    or not all(isinstance(v, str) for v in table.values()):
                raise UserError(f"{where}: prompts.{kind} must be 'single' or 'pair' mapping "
                                f"{', '.join(PROMPT_SLOTS.values())} to prompt names")
    turns = _get(obj, "judged_turns", list, where, None)
    if turns is not None and (not turns or not all(isinstance(t, int) and t >= 1 for t in turns)):
        raise UserError(f"{where}: judged_turns must be a list of turn numbers from 1")
    references = _get(obj, "references", list, where, [])
    downloads = tuple(_remote_file(d, f"{where}: downloads[{i}]") for i, d in enumerate(_get(obj, "downloads", list,
                                                                                              where, [])))
    return Manifest(
        name=_get(obj, "name", str, where, default_name),
        description=_get(obj, "description", str, where, ""),
        judge_prompts=_get(obj, "judge_prompts", str, where, DEFAULT_JUDGE_PROMPTS),
        question_file=_get(obj, "question_file", str, where, DEFAULT_QUESTION_FILE),
        categories=categories,
        default_temperature=default_temperature,
        references=tuple(str(r) for r in references),
        default_reference=_get(obj, "default_reference", str, where, "gpt-4"),
        judged_turns=None if turns is None else tuple(turns),
        prompts=FASTCHAT_PROMPTS if prompts is None else prompts,
        language=_get(obj, "language", str, where, None),
        downloads=downloads,
        source=where,
    )


def _remote_file(obj: Any, where: str) -> RemoteFile:
    if not isinstance(obj, dict):
        raise UserError(f"{where} must be an object")
    return RemoteFile(
        path=_get(obj, "path", str, where, ""), repository=_get(obj, "repository", str, where, ""),
        commit=_get(obj, "commit", str, where, ""), remote=_get(obj, "remote", str, where, ""),
        sha256=_get(obj, "sha256", str, where, ""), size=_get(obj, "size", int, where, 0),
    )


def shipped_names() -> tuple[str, ...]:
    """The benches that ship a manifest (``mtbench download --bench-name`` knows these)."""
    return tuple(sorted(p.name[:-5] for p in resources.files("mtbench.benches").iterdir() if p.name.endswith(".json")))


def load_shipped(name: str) -> Manifest:
    """A shipped manifest by its bench's name (mt_bench's is the default of every prompt rule)."""
    manifest = _shipped(name)
    if manifest is None:
        raise UserError(f"no shipped manifest for bench {name!r} (shipped: {', '.join(shipped_names())})")
    return manifest


@cache
def _shipped(name: str) -> Manifest | None:
    entry = resources.files("mtbench.benches").joinpath(f"{name}.json")
    if not entry.is_file():
        return None
    return parse_manifest(entry.read_text(encoding="utf-8"), f"mtbench/benches/{name}.json", name)


@lru_cache(maxsize=32)
def _user(path: str, mtime_ns: int, name: str) -> Manifest:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    return parse_manifest(text, path, name)


def load_manifest(bench_dir: Path, bench_name: str) -> Manifest:
    """The bench's manifest: its folder's bench.json, else the shipped one of its name, else the defaults."""
    own = Path(bench_dir) / MANIFEST_NAME
    if own.is_file():
        return _user(str(own), own.stat().st_mtime_ns, bench_name)
    return _shipped(bench_name) or Manifest(name=bench_name, source=f"{bench_name} (no manifest: the defaults)")
