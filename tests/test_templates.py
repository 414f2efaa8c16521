"""Conversation rendering: FastChat's named templates byte for byte, tokenizer/Jinja templates, the
no-template error."""

from __future__ import annotations

import pytest

from mtbench.core.errors import UserError
from mtbench.core.templates import (
    ASSISTANT,
    NAMED_TEMPLATES,
    TOKENIZER_TEMPLATE,
    USER,
    conversation,
    resolve_template,
)

Q1, A1, Q2 = "What is 2+2?", "It is 4.", "And times 3?"
ONE_TURN = [(USER, Q1)]
TWO_TURNS = [(USER, Q1), (ASSISTANT, A1), (USER, Q2)]

VICUNA_SYS = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
ZERO_SHOT_SYS = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
ALPACA_SYS = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
)

# The strings FastChat's conversation.py produces (get_prompt() after appending an empty assistant slot).
EXPECTED = [
    ("vicuna_v1.1", ONE_TURN, f"{VICUNA_SYS} USER: {Q1} ASSISTANT:"),
    ("vicuna_v1.1", TWO_TURNS, f"{VICUNA_SYS} USER: {Q1} ASSISTANT: {A1}</s>USER: {Q2} ASSISTANT:"),
    ("llama-2", ONE_TURN, f"[INST] {Q1} [/INST]"),
    ("llama-2", TWO_TURNS, f"[INST] {Q1} [/INST] {A1} </s><s>[INST] {Q2} [/INST]"),
    ("alpaca", ONE_TURN, f"{ALPACA_SYS}\n\n### Instruction: {Q1}\n\n### Response:"),
    ("alpaca", TWO_TURNS, f"{ALPACA_SYS}\n\n### Instruction: {Q1}\n\n### Response: {A1}</s>### Instruction: {Q2}\n\n### Response:"),
    (
        "chatml",
        ONE_TURN,
        f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{Q1}<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
    (
        "chatml",
        TWO_TURNS,
        f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{Q1}<|im_end|>\n"
        f"<|im_start|>assistant\n{A1}<|im_end|>\n<|im_start|>user\n{Q2}<|im_end|>\n<|im_start|>assistant\n",
    ),
    ("zero_shot", ONE_TURN, f"{ZERO_SHOT_SYS}\n### Human: {Q1}\n### Assistant:"),
    ("zero_shot", TWO_TURNS, f"{ZERO_SHOT_SYS}\n### Human: {Q1}\n### Assistant: {A1}\n### Human: {Q2}\n### Assistant:"),
]


@pytest.mark.parametrize(("name", "messages", "expected"), EXPECTED, ids=[f"{n}-{len(m)}" for n, m, _ in EXPECTED])
def test_named_template_renders_fastchat_string(name, messages, expected):
    assert NAMED_TEMPLATES[name].render(messages) == expected


def test_every_named_template_is_tested_and_declares_stop_strings():
    assert {name for name, _, _ in EXPECTED} == set(NAMED_TEMPLATES)
    for template in NAMED_TEMPLATES.values():
        assert template.stop_strings, template.name
        assert template.add_special_tokens  # FastChat lets the tokenizer add BOS to these prompts


def test_conversation_interleaves_answers():
    turns = (Q1, Q2)
    assert conversation(turns, []) == ONE_TURN
    assert conversation(turns, [A1]) == TWO_TURNS


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    """(with a chat template, without one): real tokenizers from the tiny offline model."""
    from transformers import AutoTokenizer

    from tests.models import build_tiny_tokenizer

    root = tmp_path_factory.mktemp("tok")
    return (
        AutoTokenizer.from_pretrained(build_tiny_tokenizer(root / "with")),
        AutoTokenizer.from_pretrained(build_tiny_tokenizer(root / "without", chat_template=None)),
    )


def test_default_is_the_tokenizers_own_template(tokenizers):
    with_template, _ = tokenizers
    fmt = resolve_template(None, with_template)
    assert fmt.name == TOKENIZER_TEMPLATE
    assert not fmt.add_special_tokens  # the template writes its own special tokens
    assert fmt.render(TWO_TURNS) == (
        f"<|im_start|>user\n{Q1}<|im_end|>\n<|im_start|>assistant\n{A1}<|im_end|>\n"
        f"<|im_start|>user\n{Q2}<|im_end|>\n<|im_start|>assistant\n"
    )


def test_named_template_overrides_the_tokenizers(tokenizers):
    with_template, _ = tokenizers
    assert resolve_template("vicuna_v1.1", with_template) is NAMED_TEMPLATES["vicuna_v1.1"]


def test_jinja_file(tokenizers, tmp_path):
    _, without = tokenizers
    path = tmp_path / "plain.jinja"
    path.write_text(
        "{% for m in messages %}{{ m['role'] | upper }}> {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT>{% endif %}"
    )
    fmt = resolve_template(str(path), without)
    assert fmt.name == str(path)
    assert fmt.render(TWO_TURNS) == f"USER> {Q1}\nASSISTANT> {A1}\nUSER> {Q2}\nASSISTANT>"


def test_broken_jinja_file_is_a_user_error(tokenizers, tmp_path):
    _, without = tokenizers
    path = tmp_path / "broken.jinja"
    path.write_text("{% for m in messages %}{{ m['content'] }")
    with pytest.raises(UserError, match="broken.jinja"):
        resolve_template(str(path), without).render(ONE_TURN)


def test_no_template_is_an_error_listing_the_choices(tokenizers):
    _, without = tokenizers
    with pytest.raises(UserError) as err:
        resolve_template(None, without)
    for name in NAMED_TEMPLATES:
        assert name in str(err.value)


def test_unknown_template_name_is_an_error(tokenizers):
    with_template, _ = tokenizers
    with pytest.raises(UserError, match="vicuna_v1.1"):
        resolve_template("vicuna", with_template)


def test_cli_without_template_is_one_line_exit_2(tmp_path, data_dir):
    """The model lacks a chat template and none is given: one clear line, exit 2, nothing written."""
    from tests.cli import mtbench
    from tests.models import build_tiny_model

    model = build_tiny_model(tmp_path / "no-template", chat_template=None)
    out = mtbench("gen-answer", "--model-path", model, "--model-id", "m", "--data-dir", data_dir, "--no-progress")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "no chat template" in lines[0] and "--chat-template" in lines[0] and "vicuna_v1.1" in lines[0]
    assert not (data_dir / "mt_bench" / "model_answer" / "m.jsonl").exists()
