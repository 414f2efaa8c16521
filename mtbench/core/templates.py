"""Conversation rendering: how a multi-turn chat becomes the one prompt string a local model continues.

Three sources, chosen explicitly (never by matching the model's name, FastChat's source of wrong scores):

* the tokenizer's own chat template (the default: the model's authors wrote it),
* a named classic template (``vicuna_v1.1``, ``llama-2``, ``alpaca``, ``chatml``, ``zero_shot``, ...)
  for models that ship without one, rendered exactly as FastChat's ``conversation.py`` renders it,
* a Jinja file, in the same dialect as Hugging Face chat templates.

A model without a template and no ``--chat-template`` is an error that lists the choices; FastChat would
silently fall back to a one-shot prompt nobody asked for (spec 4.2, FastChat #2783).

Pure rendering: nothing here loads a model. The tokenizer is only asked to render its own template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mtbench.core.errors import UserError

USER = "user"
ASSISTANT = "assistant"
TOKENIZER_TEMPLATE = "tokenizer"  # what answer records say when the tokenizer's own template was used

Message = tuple[str, str]  # (USER or ASSISTANT, text)


class ConversationFormat(Protocol):
    """Turns ``[(user, q1), (assistant, a1), (user, q2)]`` into the prompt for the next assistant turn."""

    # Read-only members, so the frozen dataclasses below satisfy the protocol.
    @property
    def name(self) -> str: ...

    @property
    def stop_strings(self) -> tuple[str, ...]:
        """Text that ends an answer besides the model's EOS token (cut off, and generation stops there)."""
        ...

    @property
    def add_special_tokens(self) -> bool:
        """Whether tokenizing the prompt should add the tokenizer's BOS: classic templates leave that to
        the tokenizer (as FastChat does), chat templates write it themselves."""
        ...

    def render(self, messages: Sequence[Message]) -> str: ...


# ---------------------------------------------------------------------------------------------------
# FastChat's named templates


ADD_COLON_SINGLE = "add_colon_single"
ADD_COLON_TWO = "add_colon_two"
LLAMA2 = "llama2"
CHATML = "chatml"


@dataclass(frozen=True)
class NamedTemplate:
    """One of FastChat's ``Conversation`` templates, with only the fields its rendering reads."""

    name: str
    style: str  # one of the separator styles above
    roles: tuple[str, str]
    sep: str
    sep2: str = ""
    system_message: str = ""
    system_template: str = "{system_message}"
    stop_strings: tuple[str, ...] = ()
    add_special_tokens: bool = True

    def render(self, messages: Sequence[Message]) -> str:
        # FastChat's message list: alternating (role, text) with an empty slot for the answer to write.
        slots = [(self.roles[0] if who == USER else self.roles[1], text) for who, text in messages]
        slots.append((self.roles[1], ""))
        system = self.system_template.format(system_message=self.system_message)
        if self.style == ADD_COLON_SINGLE:
            out = system + self.sep
            for role, text in slots:
                out += f"{role}: {text}{self.sep}" if text else f"{role}:"
            return out
        if self.style == ADD_COLON_TWO:
            seps = (self.sep, self.sep2)
            out = system + seps[0]
            for i, (role, text) in enumerate(slots):
                out += f"{role}: {text}{seps[i % 2]}" if text else f"{role}:"
            return out
        if self.style == LLAMA2:
            seps = (self.sep, self.sep2)
            out = system if self.system_message else "[INST] "
            for i, (role, text) in enumerate(slots):
                if not text:
                    out += role
                elif i == 0:
                    out += text + " "  # the first user text sits inside the opening [INST]
                else:
                    out += f"{role} {text}{seps[i % 2]}"
            return out
        if self.style == CHATML:
            out = "" if system == "" else system + self.sep + "\n"
            for role, text in slots:
                out += f"{role}\n{text}{self.sep}\n" if text else f"{role}\n"
            return out
        raise AssertionError(f"unknown separator style {self.style!r}")


NAMED_TEMPLATES: dict[str, NamedTemplate] = {
    t.name: t
    for t in (
        NamedTemplate(
            name="vicuna_v1.1",
            style=ADD_COLON_TWO,
            system_message="A chat between a curious user and an artificial intelligence assistant. "
            "The assistant gives helpful, detailed, and polite answers to the user's questions.",
            roles=("USER", "ASSISTANT"),
            sep=" ",
            sep2="</s>",
            stop_strings=("</s>", "USER:"),
        ),
        NamedTemplate(
            name="llama-2",
            style=LLAMA2,
            system_template="[INST] <<SYS>>\n{system_message}\n<</SYS>>\n\n",
            roles=("[INST]", "[/INST]"),
            sep=" ",
            sep2=" </s><s>",
            stop_strings=("</s>", "[INST]"),
        ),
        NamedTemplate(
            name="alpaca",
            style=ADD_COLON_TWO,
            system_message="Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.",
            roles=("### Instruction", "### Response"),
            sep="\n\n",
            sep2="</s>",
            stop_strings=("</s>", "### Instruction"),
        ),
        NamedTemplate(
            name="chatml",
            style=CHATML,
            system_template="<|im_start|>system\n{system_message}",
            system_message="You are a helpful assistant.",
            roles=("<|im_start|>user", "<|im_start|>assistant"),
            sep="<|im_end|>",
            stop_strings=("<|im_end|>", "<|endoftext|>"),
        ),
        NamedTemplate(
            name="zero_shot",
            style=ADD_COLON_SINGLE,
            system_message="A chat between a curious human and an artificial intelligence assistant. "
            "The assistant gives helpful, detailed, and polite answers to the human's questions.",
            roles=("Human", "Assistant"),
            sep="\n### ",
            stop_strings=("###",),
        ),
    )
}


# ---------------------------------------------------------------------------------------------------
# Hugging Face chat templates (the tokenizer's own, or a Jinja file)


class ChatTokenizer(Protocol):
    chat_template: Any

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class JinjaTemplate:
    """A Hugging Face chat template: the tokenizer's own (``source is None``) or a Jinja file's text."""

    name: str
    tokenizer: ChatTokenizer
    source: str | None = None
    stop_strings: tuple[str, ...] = ()
    add_special_tokens: bool = False
    template_kwargs: Mapping[str, Any] = field(default_factory=dict)  # --chat-template-kwargs

    def render(self, messages: Sequence[Message]) -> str:
        chat = [{"role": who, "content": text} for who, text in messages]
        kwargs: dict[str, Any] = {**self.template_kwargs, "tokenize": False, "add_generation_prompt": True}
        if self.source is not None:
            kwargs["chat_template"] = self.source
        try:
            return self.tokenizer.apply_chat_template(chat, **kwargs)
        except Exception as e:  # a Jinja error in a user's file is their input, not our bug
            if self.source is None:
                raise
            raise UserError(f"chat template {self.name}: {type(e).__name__}: {e}") from None


# ---------------------------------------------------------------------------------------------------
# choosing


def template_choices() -> str:
    return ", ".join(NAMED_TEMPLATES)


def resolve_template(
    spec: str | None, tokenizer: ChatTokenizer, template_kwargs: Mapping[str, Any] | None = None
) -> ConversationFormat:
    """The conversation format to use: ``spec`` (a named template or a Jinja file), else the tokenizer's.

    Never guesses: with no ``spec`` and no template in the tokenizer this is a ``UserError``.
    ``template_kwargs`` (e.g. ``{"enable_thinking": True}``) go to ``apply_chat_template``; a named
    template has no such variables, so they are refused there.
    """
    kwargs = dict(template_kwargs or {})
    if spec in NAMED_TEMPLATES and kwargs:
        raise UserError(f"--chat-template-kwargs only applies to a Jinja chat template, not to {spec!r}")
    if spec is None:
        if getattr(tokenizer, "chat_template", None):
            return JinjaTemplate(name=TOKENIZER_TEMPLATE, tokenizer=tokenizer, template_kwargs=kwargs)
        raise UserError(
            "the tokenizer has no chat template; pass --chat-template with one of "
            f"{template_choices()} or a Jinja file (no silent fallback: a wrong template skews scores)"
        )
    if spec in NAMED_TEMPLATES:
        return NAMED_TEMPLATES[spec]
    path = Path(spec)
    if path.is_file():
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"--chat-template {spec}: cannot read the file ({e})") from None
        if not source.strip():
            raise UserError(f"--chat-template {spec}: the file is empty")
        return JinjaTemplate(name=str(path), tokenizer=tokenizer, source=source, template_kwargs=kwargs)
    raise UserError(
        f"--chat-template {spec!r} is neither a known template ({template_choices()}) nor a Jinja file"
    )


def conversation(turns: Sequence[str], answers: Sequence[str]) -> list[Message]:
    """The messages before the next answer: ``turns[:len(answers)+1]`` interleaved with ``answers``."""
    messages: list[Message] = []
    for i, question in enumerate(turns[: len(answers) + 1]):
        messages.append((USER, question))
        if i < len(answers):
            messages.append((ASSISTANT, answers[i]))
    return messages
