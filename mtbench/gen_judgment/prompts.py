"""Which of FastChat's judge prompts a match uses, and its rendering into the messages sent (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH, Mode
from mtbench.core.errors import UserError
from mtbench.core.manifest import Manifest, load_shipped
from mtbench.core.record_files import load_judge_prompts
from mtbench.core.records import JudgePrompt, Question

# FastChat's four judges per judgment kind: (needs a reference, turn) -> prompt name.
SINGLE_PROMPTS = {
    (False, 1): "single-v1",
    (True, 1): "single-math-v1",
    (False, 2): "single-v1-multi-turn",
    (True, 2): "single-math-v1-multi-turn",
}
PAIR_PROMPTS = {
    (False, 1): "pair-v2",
    (True, 1): "pair-math-v1",
    (False, 2): "pair-v2-multi-turn",
    (True, 2): "pair-math-v1-multi-turn",
}


def prompt_table(mode: Mode | str) -> Mapping[tuple[bool, int], str]:
    """The four prompt names of ``mode``: single modes use the single judges, both pairwise modes the pair ones."""
    return PAIR_PROMPTS if Mode.parse(mode).pairwise else SINGLE_PROMPTS


def _bench(manifest: Manifest | None) -> Manifest:
    """The bench whose prompts apply: the one given, else MT-bench's (FastChat's tables above)."""
    return manifest or load_shipped(DEFAULT_BENCH)


def needs_reference(category: str, manifest: Manifest | None = None) -> bool:
    return _bench(manifest).needs_reference(category)


def prompt_name(mode: Mode | str, category: str, turn: int, manifest: Manifest | None = None) -> str:
    """Which judge prompt applies: by the bench's manifest, from the category (reference-guided or not) and turn."""
    return _bench(manifest).prompt_name(Mode.parse(mode).kind, category, turn)


def check_mode(mode: Mode, manifest: Manifest) -> None:
    """A bench without prompts of the mode's kind refuses it in one line (Japanese MT-bench has no pairwise ones)."""
    if mode.kind not in manifest.prompts:
        raise UserError(f"--mode {mode}: the {manifest.name} bench has no {mode.kind} judge prompts "
                        f"({manifest.source}); use --mode {'single' if 'single' in manifest.prompts else 'pairwise-all'}")


def load_prompts(path: Path, mode: Mode, manifest: Manifest | None = None) -> dict[str, JudgePrompt]:
    """The judge prompt file, checked to hold the prompts ``mode`` needs on this bench."""
    if not path.is_file():
        raise UserError(f"judge prompt file {path} not found: run `mtbench download` or pass --judge-file")
    prompts = load_judge_prompts(path)
    bench = _bench(manifest)
    check_mode(mode, bench)
    missing = [n for n in bench.prompts[mode.kind].values() if n not in prompts]
    if missing:
        raise UserError(f"{path}: no judge prompt named {', '.join(missing)}")
    return prompts


def _question_fields(question: Question, turn: int, reference: Sequence[str] | None) -> dict[str, str]:
    """The template fields every judge prompt of ``turn`` shares: the question(s) and the reference turns."""
    if turn == 1:
        fields = {"question": question.turns[0]}
    else:
        fields = {"question_1": question.turns[0], "question_2": question.turns[1]}
    if reference is not None:
        fields.update({f"ref_answer_{i + 1}": reference[i] for i in range(turn)})
    return fields


def render_single(
    prompt: JudgePrompt, question: Question, answer: Sequence[str], turn: int, reference: Sequence[str] | None
) -> str:
    """The user message of a single-answer judgment (FastChat's ``str.format`` of the template)."""
    fields = _question_fields(question, turn, reference)
    if turn == 1:
        fields["answer"] = answer[0]
    else:
        fields.update({"answer_1": answer[0], "answer_2": answer[1]})
    return prompt.prompt_template.format(**fields)


def render_pair(
    prompt: JudgePrompt,
    question: Question,
    answer_a: Sequence[str],
    answer_b: Sequence[str],
    turn: int,
    reference: Sequence[str] | None,
) -> str:
    """The user message of one pairwise game, ``answer_a`` shown as Assistant A."""
    fields = _question_fields(question, turn, reference)
    if turn == 1:
        fields.update({"answer_a": answer_a[0], "answer_b": answer_b[0]})
    else:
        fields.update({
            "answer_a_1": answer_a[0], "answer_b_1": answer_b[0], "answer_a_2": answer_a[1], "answer_b_2": answer_b[1],
        })
    return prompt.prompt_template.format(**fields)


def judge_messages(prompt: JudgePrompt, user_prompt: str) -> list[dict[str, str]]:
    """[system, user] as FastChat sends to an OpenAI judge; no system message when it is empty."""
    messages = [{"role": "user", "content": user_prompt}]
    if prompt.system_prompt:
        messages.insert(0, {"role": "system", "content": prompt.system_prompt})
    return messages
