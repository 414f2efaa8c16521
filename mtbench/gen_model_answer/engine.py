"""The generation seam: rendered prompts and per-request sampling params in, one output per prompt out.

Everything above it (turn interleaving, resume, replicas) is engine-agnostic; an engine only has to
implement ``Generator``. ``HFGenerator`` (transformers) is the one today; a vLLM engine would be a second
implementation with the same contract: outputs in prompt order, a failure as a value (``text=None`` and
``error``), never an exception for one bad prompt, and the same seed giving the same draw whatever else
shares the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from mtbench.templates import ConversationFormat

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
