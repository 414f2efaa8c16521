"""MT-Bench-101's files as data: the dialogues (``mtbench101.jsonl``) and the judge's task prompts, read
from OpenCompass's evaluation code (``opencompass_mtbench101.py``) with ``ast``, never imported or run.

A dialogue becomes a ``Question`` (its id, its task as the category, its user turns) that carries the
dataset's ``bot`` turns under ``GOLDEN_KEY``: the answer commands send those as the history before each
user turn (``mtbench.core.bench.history_answers``), never the model's own earlier answers.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.core.bench import GOLDEN_KEY, BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.jsonl import FieldError, read_records
from mtbench.core.record_fields import checked, get
from mtbench.core.records import Question

DIALOGUE_FILE = "mtbench101.jsonl"  # the dataset, as mtbench101/mt-bench-101 ships it
PROMPT_FILE = "opencompass_mtbench101.py"  # OpenCompass's evaluation code, read as data

# The paper's three-tier taxonomy (Bai et al., ACL 2024, Figure 1): level -> ability -> its tasks.
TAXONOMY: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("Perceptivity", (("Memory", ("CM",)), ("Understanding", ("AR", "SI")), ("Interference", ("TS", "CC")))),
    ("Adaptability", (("Rephrasing", ("CR", "FR")), ("Reflection", ("SC", "SA")), ("Reasoning", ("MR", "GR")))),
    ("Interactivity", (("Questioning", ("IC", "PI")),)),
)
TASKS = tuple(t for _, abilities in TAXONOMY for _, tasks in abilities for t in tasks)
TASK_NAMES = {
    "CM": "Context Memory", "AR": "Anaphora Resolution", "SI": "Separate Input", "TS": "Topic Shift",
    "CC": "Content Confusion", "CR": "Content Rephrasing", "FR": "Format Rephrasing", "SC": "Self-correction",
    "SA": "Self-affirmation", "MR": "Mathematical Reasoning", "GR": "General Reasoning",
    "IC": "Instruction Clarification", "PI": "Proactive Interaction",
}


@dataclass(frozen=True)
class Dialogue:
    dialogue_id: int
    task: str
    users: tuple[str, ...]
    bots: tuple[str, ...]  # the golden answers: the history of later turns, and MR/GR's reference

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Dialogue:
        task = get(obj, "task", str, "a string")
        if task not in TASK_NAMES:
            raise FieldError(f"field 'task' must be one of {', '.join(TASKS)}, got {task!r}")
        history = get(obj, "history", list, "a list of {user, bot} objects")
        if not history:
            raise FieldError("field 'history' is empty")
        users, bots = [], []
        for i, turn in enumerate(history):
            turn = checked(f"history[{i}]", turn, dict, "an object")
            users.append(get(turn, "user", str, "a string"))
            bots.append(get(turn, "bot", str, "a string"))
        return cls(get(obj, "id", int, "an integer"), task, tuple(users), tuple(bots))

    def question(self) -> Question:
        return Question(question_id=self.dialogue_id, category=self.task, turns=self.users,
                        extra={GOLDEN_KEY: list(self.bots)})


def dialogue_file(layout: BenchLayout) -> Path:
    return layout.bench_dir / DIALOGUE_FILE


def is_present(layout: BenchLayout) -> bool:
    """Whether the bench folder is laid out as MT-Bench-101's (its dialogue file is there)."""
    return dialogue_file(layout).is_file()


def load_dialogues(path: Path) -> list[Dialogue]:
    """Every dialogue in file order; a bad line or a repeated id is one line naming file:line."""
    seen: dict[int, int] = {}
    out = []
    for number, dialogue in read_records(path, Dialogue.from_json):
        if dialogue.dialogue_id in seen:
            raise UserError(f"{path}:{number}: dialogue id {dialogue.dialogue_id} again (first on line "
                            f"{seen[dialogue.dialogue_id]})")
        seen[dialogue.dialogue_id] = number
        out.append(dialogue)
    if not out:
        raise UserError(f"{path}: no dialogues")
    return out


@dataclass(frozen=True)
class PaperPrompts:
    """The judge's text as OpenCompass's file holds it: the shared head and tail, one prompt per task, and
    which tasks skip their first turn and which are judged against the golden answer."""

    judge: str
    score_format: str
    task_prompts: Mapping[str, str]
    skip_first: frozenset[str]
    need_ref: frozenset[str]

    def system_prompt(self, task: str) -> str:
        return self.judge + self.task_prompts[task] + self.score_format


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level ``NAME = <literal>`` assignments; a dict whose values are names is resolved through the
    strings already read (``unique_prompt = {'CM': eval_CM, ...}``)."""
    out: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name, value = node.targets[0].id, node.value
        if isinstance(value, ast.Dict):
            resolved = {}
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(v, ast.Name) and isinstance(out.get(v.id), str):
                    resolved[k.value] = out[v.id]
            out[name] = resolved
            continue
        try:
            out[name] = ast.literal_eval(value)
        except ValueError:
            continue  # not a literal (a call, a name): not data
    return out


def load_prompts(path: Path) -> PaperPrompts:
    if not path.is_file():
        raise UserError(f"{path}: no such file (the judge's task prompts; run `mtbench download --bench-name "
                        "mt_bench_101`)")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot be read as Python source: {e}") from None
    found = _constants(tree)

    def need(name: str, kind: type) -> Any:
        value = found.get(name)
        if not isinstance(value, kind):
            raise UserError(f"{path}: no module-level {kind.__name__} constant {name!r} (not the pinned file?)")
        return value

    prompts = need("unique_prompt", dict)
    missing = [t for t in TASKS if not isinstance(prompts.get(t), str)]
    if missing:
        raise UserError(f"{path}: unique_prompt has no prompt for task(s) {', '.join(missing)}")
    return PaperPrompts(
        judge=need("judge", str), score_format=need("score_format", str),
        task_prompts={t: prompts[t] for t in TASKS},
        skip_first=frozenset(need("skip_first_tasks", list)), need_ref=frozenset(need("need_ref_tasks", list)),
    )
