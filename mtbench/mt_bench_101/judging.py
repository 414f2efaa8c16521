"""MT-Bench-101's turns as the shared judge's matches: one ``SingleMatch`` per (dialogue, judged turn,
model), so the judge's runner, resume, retries, local judge and cost plan are the ones MT-bench uses.

What the paper's protocol (OpenCompass's ``mtbench101.py``) fixes, and how it is kept here:

- the judge's system message is ``judge + eval_TASK + score_format``, the file's own strings;
- the user message shows the golden dialogue up to the judged turn, then the model's answer to it, in
  the file's ``Human:``/``Assistant:`` layout; MR and GR (``need_ref_tasks``) add the turn's golden
  answer as the reference solution (OpenCompass passes the whole dialogue there; the paper and the
  prompts speak of the reference solution, which is that answer);
- the first turn of the tasks in ``skip_first_tasks`` is not judged (it sets up the dialogue);
- the score is the ``[[n]]`` the prompt asks for (``Rating: [[6]]``).

Records are the judge's ``SingleJudgment`` layout: ``question_id`` the dialogue id, ``turn`` the judged
turn (from 1), the prompt name ``mt-bench-101-TASK``, and ``task``/``dialogue_id``/``protocol`` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mtbench.core.answer_file import first_per_category
from mtbench.core.bench import Mode
from mtbench.core.chat_result import ChatResult
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError
from mtbench.core.record_files import load_answers
from mtbench.core.records import Answer, JudgePrompt
from mtbench.gen_judgment.config import JudgeConfig
from mtbench.gen_judgment.matches import Match, SingleMatch, Skip, repeat_matches
from mtbench.gen_judgment.plan import JudgeWork
from mtbench.gen_judgment.provenance import RunProvenance, file_sha256
from mtbench.mt_bench_101.data import (
    PROMPT_FILE,
    Dialogue,
    PaperPrompts,
    dialogue_file,
    load_dialogues,
    load_prompts,
)

PROMPT_PREFIX = "mt-bench-101-"
PROTOCOL = "mt_bench_101"
GOLDEN_REFERENCE = "golden"  # the reference of MR/GR: the dataset's own answer to the judged turn


def task_prompt(prompts: PaperPrompts, task: str) -> JudgePrompt:
    return JudgePrompt(name=PROMPT_PREFIX + task, type="single", system_prompt=prompts.system_prompt(task),
                       prompt_template="", output_format="[[rating]]", category=task)


def judged_turns(dialogue: Dialogue, prompts: PaperPrompts) -> range:
    """The turns (from 1) the judge grades: all, or all but the first for the tasks that skip it."""
    return range(2 if dialogue.task in prompts.skip_first else 1, len(dialogue.users) + 1)


def judge_text(dialogue: Dialogue, turn: int, prediction: str, prompts: PaperPrompts) -> str:
    """The judge's user message for ``turn``: the golden history, the user's turn, the model's answer."""
    history = "".join(f"\n\n Human: {u}\n\nAssistant: {b}"
                      for u, b in zip(dialogue.users[: turn - 1], dialogue.bots[: turn - 1], strict=True))
    history += f"\n\n Human: {dialogue.users[turn - 1]}\n\nAssistant: "
    text = f"The dialogue need to be judged is: \n *** \n {history} {prediction} \n ***"
    if dialogue.task in prompts.need_ref:
        text += f"\n\nThe reference solution is: \n ### \n {dialogue.bots[turn - 1]} \n ###\n\n"
    return text


@dataclass(frozen=True)
class Bench101Provenance(RunProvenance):
    """The shared provenance, plus the fields that place a judgment in MT-Bench-101."""

    def fields(self, match: Match, results: Sequence[ChatResult]) -> dict[str, Any]:
        return {**super().fields(match, results), "protocol": PROTOCOL, "task": match.prompt.category,
                "dialogue_id": match.question_id}


def _problem(answer: Answer | None, turn: int) -> str | None:
    if answer is None:
        return "no answer in the answer file"
    if answer.failed:
        return "answer failed to generate"
    if len(answer.turns) < turn:
        return f"answer has no turn {turn}"
    return None


def select_dialogues(config: JudgeConfig, dialogues: list[Dialogue]) -> list[Dialogue]:
    picked = dialogues[: config.first_n] if config.first_n is not None else dialogues
    keep = {q.question_id for q in first_per_category([d.question() for d in picked], config.per_category)}
    return [d for d in picked if d.dialogue_id in keep]


def load_work(config: JudgeConfig, pending: Mapping[str, Mapping[int, Answer]] | None = None) -> JudgeWork:
    """Every (dialogue, judged turn, model) match of the run; every problem with the inputs is one line.

    ``pending``: answers not generated yet, per model (``mtbench run`` plans before its answer step): they
    stand in for, or over, what the model's answer file holds."""
    if config.mode is not Mode.SINGLE:
        raise ConfigError("{mode} " + f"{config.mode}: MT-Bench-101 grades each turn on its own (single mode only)")
    layout = config.layout
    path = dialogue_file(layout)
    dialogues = select_dialogues(config, load_dialogues(path))
    prompt_file = config.judge_file or layout.bench_dir / PROMPT_FILE
    prompts = load_prompts(prompt_file)
    models = tuple(dict.fromkeys(config.model_list)) if config.model_list else tuple(layout.model_ids())
    if not models:
        raise UserError(f"no answer files in {layout.answer_dir}: generate answers first "
                        f"(mtbench gen-api-answer / gen-answer --bench-name {layout.bench_name})")
    pending = pending or {}
    answers = {}
    for model in models:
        file = layout.answer_file(model)
        if not file.is_file() and model not in pending:
            raise UserError(f"no answers for model {model!r}: {file} does not exist")
        answers[model] = {**(load_answers(file) if file.is_file() else {}), **pending.get(model, {})}
    matches: list[Match] = []
    skipped: dict[tuple[str, str], list[int]] = {}
    for d in dialogues:
        prompt = task_prompt(prompts, d.task)
        reference = GOLDEN_REFERENCE if d.task in prompts.need_ref else None
        for turn in judged_turns(d, prompts):
            for model in models:
                answer = answers[model].get(d.dialogue_id)
                why = _problem(answer, turn)
                if why is not None:
                    ids = skipped.setdefault((model, why), [])
                    if not ids or ids[-1] != d.dialogue_id:
                        ids.append(d.dialogue_id)
                    continue
                assert answer is not None
                matches.append(SingleMatch(
                    question_id=d.dialogue_id, model=model, turn=turn, judge_model=config.judge_model, prompt=prompt,
                    user_prompt=judge_text(d, turn, answer.turns[turn - 1], prompts), reference=reference))
    skips = tuple(Skip(m, why.replace("question", "dialogue"), tuple(ids)) for (m, why), ids in skipped.items())
    provenance = Bench101Provenance(prompt_file_sha256=file_sha256(prompt_file), reference=GOLDEN_REFERENCE,
                                    reference_sha256=file_sha256(path))
    return JudgeWork(config, models, tuple(repeat_matches(matches, config.judge_samples)), skips, provenance)
