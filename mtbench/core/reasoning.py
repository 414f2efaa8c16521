"""Reasoning apart from the answer: what a reasoning model thought, and what it said.

Pure functions over text. A reasoning model's reply carries its thinking either inline between tags
(``<think>...</think>`` by default) or in a separate field of the API reply (``reasoning_content``, as
vLLM's reasoning parsers and DeepSeek return it, or ``reasoning``). The judge must read only the visible
answer, and turn 2 must be built from it, so the two are split once, where a reply is received.

Rules, in order:
- no tag in the text: the text is the answer, unchanged, byte for byte (models that do not reason);
- ``open ... close`` blocks anywhere: their insides are reasoning, the rest is the answer;
- a ``close`` with no ``open`` before it: the chat template opened the block in the prompt (Qwen3
  style), so everything before it is reasoning;
- an ``open`` never closed (or a block opened by the prompt and never closed): the reply was cut while
  reasoning; the answer is what came before it, usually empty, and the split says so (``cut``), so it is
  judged as the empty answer it is and counted, never skipped.

``ReasoningOptions`` is what both answer commands apply to each reply (the tags, or ``--keep-reasoning``);
``choice_of`` turns a conversation's split replies into the record's ``Choice``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mtbench.core.errors import UserError
from mtbench.core.records import Choice


@dataclass(frozen=True)
class ReasoningTags:
    """The pair of tags around inline reasoning."""

    open: str = "<think>"
    close: str = "</think>"

    def __post_init__(self) -> None:
        if not self.open.strip() or not self.close.strip():
            raise UserError("--reasoning-tags needs two non-empty tags, e.g. --reasoning-tags '<think>' '</think>'")
        if self.open == self.close:
            raise UserError(
                f"--reasoning-tags {self.open!r} {self.close!r}: the closing tag must differ from the opening one"
            )


THINK_TAGS = ReasoningTags()


@dataclass(frozen=True)
class SplitReply:
    """A reply split in two. ``reasoning`` is None exactly when the reply showed no reasoning at all."""

    answer: str
    reasoning: str | None = None
    cut: bool = False  # the reply ended inside its reasoning (no closing tag)


def prompt_opens_reasoning(prompt: str, tags: ReasoningTags = THINK_TAGS) -> bool:
    """Whether a rendered prompt ends inside an opened reasoning block (the model starts thinking)."""
    tail = prompt.rstrip()
    return tail.endswith(tags.open)


def split_reasoning(text: str, tags: ReasoningTags = THINK_TAGS, *, opened: bool = False) -> SplitReply:
    """Split inline reasoning from the answer; ``opened``: the prompt already opened a block."""
    if opened and tags.close not in text:
        lead = text.lstrip()
        if lead.startswith(tags.open):
            lead = lead[len(tags.open):]
        return SplitReply(answer="", reasoning=lead.strip(), cut=True)
    if tags.open not in text and tags.close not in text:
        return SplitReply(answer=text)

    thoughts: list[str] = []
    rest = text
    first_close = rest.find(tags.close)
    first_open = rest.find(tags.open)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        # Only the closing tag: the template opened the block in the prompt.
        thoughts.append(rest[:first_close])
        rest = rest[first_close + len(tags.close):]

    answer_parts: list[str] = []
    cut = False
    while True:
        start = rest.find(tags.open)
        if start == -1:
            answer_parts.append(rest)
            break
        answer_parts.append(rest[:start])
        end = rest.find(tags.close, start + len(tags.open))
        if end == -1:
            thoughts.append(rest[start + len(tags.open):])
            cut = True
            break
        thoughts.append(rest[start + len(tags.open):end])
        rest = rest[end + len(tags.close):]

    answer = "".join(answer_parts).strip()
    reasoning = "\n\n".join(t.strip() for t in thoughts if t.strip())
    return SplitReply(answer=answer, reasoning=reasoning, cut=cut)


def merge_reasoning(field: str | None, inline: SplitReply) -> SplitReply:
    """A reply whose API sent reasoning in a field of its own, and perhaps inline tags too."""
    if not field:
        return inline
    parts = [field.strip(), inline.reasoning or ""]
    return SplitReply(answer=inline.answer, reasoning="\n\n".join(p for p in parts if p), cut=inline.cut)


@dataclass(frozen=True)
class ReasoningOptions:
    """How an answer command treats reasoning: which inline tags, or none split at all (``keep``)."""

    tags: ReasoningTags = THINK_TAGS
    keep: bool = False  # --keep-reasoning: the text stays as the model wrote it

    def opens(self, prompt: str) -> bool:
        """Whether a rendered local prompt ends inside a reasoning block the template opened."""
        return not self.keep and prompt_opens_reasoning(prompt, self.tags)

    def split(
        self, text: str, *, field: str | None = None, opened: bool = False, finish_reason: str | None = None
    ) -> SplitReply:
        """One reply as answer and reasoning. ``field``: the API reply's own reasoning field, never part
        of the answer, even with ``keep``; a reply cut at the token limit with only that field and no
        content was cut while reasoning."""
        inline = SplitReply(answer=text) if self.keep else split_reasoning(text, self.tags, opened=opened)
        reply = merge_reasoning(field, inline)
        if field and finish_reason == "length" and not reply.answer.strip() and not reply.cut:
            reply = SplitReply(answer=reply.answer, reasoning=reply.reasoning, cut=True)
        return reply

    def record(self) -> dict[str, object]:
        """What an answer record keeps of these options: nothing for the defaults."""
        out: dict[str, object] = {}
        if self.tags != THINK_TAGS:
            out["reasoning_tags"] = [self.tags.open, self.tags.close]
        if self.keep:
            out["keep_reasoning"] = True
        return out


def choice_of(index: int, replies: Sequence[SplitReply]) -> Choice:
    """The answer record's conversation from its turns' split replies."""
    reasoning = tuple(r.reasoning for r in replies)
    return Choice(
        index=index,
        turns=tuple(r.answer for r in replies),
        reasoning=reasoning if any(r is not None for r in reasoning) else None,
        cut_while_reasoning=tuple(turn for turn, r in enumerate(replies, 1) if r.cut),
    )
