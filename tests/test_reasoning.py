"""Reasoning split from answers: table-driven over the shapes reasoning models produce."""

from __future__ import annotations

import pytest

from mtbench.core.errors import UserError
from mtbench.core.reasoning import (
    ReasoningTags,
    SplitReply,
    merge_reasoning,
    prompt_opens_reasoning,
    split_reasoning,
)

CASES = [
    # (reply text, opened by the prompt, expected)
    ("Paris is the capital.", False, SplitReply("Paris is the capital.")),
    ("  spaces and\nnewlines kept \n", False, SplitReply("  spaces and\nnewlines kept \n")),
    ("<think>France... Paris.</think>\n\nParis.", False, SplitReply("Paris.", "France... Paris.")),
    ("<think>\n\n</think>\n\nParis.", False, SplitReply("Paris.", "")),  # Qwen3 with thinking off
    ("France... Paris.\n</think>\n\nParis.", False, SplitReply("Paris.", "France... Paris.")),  # template opened it
    ("France... Paris.\n</think>\n\nParis.", True, SplitReply("Paris.", "France... Paris.")),
    ("<think>France, so", False, SplitReply("", "France, so", cut=True)),  # cut at max tokens
    ("France, so", True, SplitReply("", "France, so", cut=True)),
    ("Intro <think>a</think> middle <think>b</think> end", False, SplitReply("Intro  middle  end", "a\n\nb")),
    ("Answer first <think>then thinking", False, SplitReply("Answer first", "then thinking", cut=True)),
]


@pytest.mark.parametrize(("text", "opened", "expected"), CASES)
def test_split_reasoning(text, opened, expected):
    assert split_reasoning(text, opened=opened) == expected


def test_other_tags():
    tags = ReasoningTags("<|channel|>analysis", "<|end|>")
    got = split_reasoning("<|channel|>analysis think hard<|end|>The answer.", tags)
    assert got == SplitReply("The answer.", "think hard")
    assert split_reasoning("<think>x</think>y", tags) == SplitReply("<think>x</think>y")


def test_bad_tags_are_user_errors():
    with pytest.raises(UserError, match="non-empty"):
        ReasoningTags("<think>", " ")
    with pytest.raises(UserError, match="must differ"):
        ReasoningTags("|", "|")


def test_prompt_opens_reasoning():
    assert prompt_opens_reasoning("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_reasoning("<|im_start|>assistant\n")
    assert not prompt_opens_reasoning("<think>\n\n</think>\n\n")


def test_reasoning_field_merges_with_inline():
    inline = split_reasoning("<think>more</think>Final.")
    assert merge_reasoning("From the field.", inline) == SplitReply("Final.", "From the field.\n\nmore")
    plain = split_reasoning("Final.")
    assert merge_reasoning("From the field.", plain) == SplitReply("Final.", "From the field.")
    assert merge_reasoning(None, plain) is plain
