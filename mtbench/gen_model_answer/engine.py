"""The generation seam: rendered prompts and per-request sampling params in, one output per prompt out.

Everything above it (turn interleaving, resume, replicas) is engine-agnostic; an engine only has to
implement ``Generator``: ``HFGenerator`` (transformers) and ``VLLMGenerator``. The contract: outputs in
prompt order, a failure as a value (``text=None`` and ``error``), never an exception for one bad prompt,
and the same seed giving the same draw whatever else shares the batch.

Conversations run through ``drive``: requests plus a follow-up that turns each finished request into the
next ones (a question's turn 2 after its turn 1). A plain ``Generator`` runs them in waves (every turn 1,
then every turn 2); an engine that also implements ``Pipelining`` submits each follow-up at once, while
the other requests are still running.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from mtbench.core.templates import ConversationFormat

GREEDY_BELOW = 1e-4  # FastChat: temperatures below this decode greedily

# stop: EOS or a stop string ended the text; length: max_new_tokens did; error: the generation failed.
FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class SamplingParams:
    """How to continue one prompt."""

    temperature: float
    max_new_tokens: int
    seed: int  # seeds this row's own generator; unused when greedy

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


@dataclass(frozen=True)
class GenerationOutput:
    """One prompt's continuation, or why there is none."""

    text: str | None  # None exactly when the generation failed
    error: str | None = None
    new_tokens: int = 0  # tokens generated before EOS (what throughput counts)
    prompt_tokens: int = 0
    finish_reason: FinishReason = "stop"

    @classmethod
    def failure(cls, reason: str) -> GenerationOutput:
        return cls(text=None, error=reason, finish_reason="error")


class Generator(Protocol):
    """An engine: continues prompts rendered with its ``template``."""

    template: ConversationFormat

    def generate(self, prompts: Sequence[str], params: Sequence[SamplingParams]) -> list[GenerationOutput]: ...


@dataclass(frozen=True)
class Request:
    """One prompt to continue; ``key`` is the caller's (which conversation, which turn)."""

    key: Hashable
    prompt: str
    params: SamplingParams


# A finished request and its output -> the requests that follow from it (none: that conversation is done).
FollowUp = Callable[[Request, GenerationOutput], Sequence[Request]]


@runtime_checkable
class Pipelining(Protocol):
    """An engine that takes new requests while others run (vLLM's continuous batching)."""

    def pipeline(self, requests: Sequence[Request], follow_up: FollowUp) -> None:
        """Run ``requests``; as each finishes, hand it to ``follow_up`` and submit what that returns at
        once; return when nothing is left running."""
        ...


def drive(generator: Generator, requests: Sequence[Request], follow_up: FollowUp, waves: bool = False) -> None:
    """Run ``requests`` and everything ``follow_up`` makes of them: pipelined where the engine can (unless
    ``waves``), else in waves, each wave one ``generate`` call over every request then open."""
    if not waves and isinstance(generator, Pipelining):
        generator.pipeline(requests, follow_up)
        return
    todo = list(requests)
    while todo:
        outputs = generator.generate([r.prompt for r in todo], [r.params for r in todo])
        todo = [after for r, out in zip(todo, outputs, strict=True) for after in follow_up(r, out)]


class OptionScorer(Protocol):
    """An engine that can also rank fixed continuations of a prompt (the local judge's forced verdict)."""

    def score_options(self, prompt: str, options: Sequence[str]) -> list[float]:
        """For each option, the sum of its tokens' log-probabilities as the continuation of ``prompt``
        (rendered text, tokenized as ``generate`` tokenizes prompts; each option tokenized on its own
        without special tokens and appended), in option order."""
        ...


def first_line(e: BaseException) -> str:
    """An exception's first line, as a failure reason (library messages run to many lines)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
