"""What a judge run will cost, before it runs (offline), and what it did cost (from the API's usage).

Token counts before a run are an estimate that needs no tokenizer download: about 4 characters per
token for English prose (OpenAI's rule of thumb), plus a few tokens of chat framing per message, and an
assumed reply length per call. MT-bench prompts are English and markdown, where the heuristic is within
roughly 10-15% of tiktoken's count; the estimate is for deciding whether to start, not for billing.
A reasoning judge writes far more than the assumed reply (its thinking is billed as output): its
estimate is its token limit until replies in the output file show what it really writes
(``estimate_output``).

What a run did cost is priced from the API's usage: ``completion_tokens`` include a reasoning model's
reasoning tokens (OpenAI, vLLM, DeepSeek count them there), and all of them are priced as output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4  # role and separators the chat format adds around each message
TOKENS_PER_REQUEST = 3  # the primed assistant turn
# Mean judge reply in the real GPT-4 MT-bench runs we have is ~740 characters (~185 tokens); rounded up
# so the estimate errs on the side of more, not less.
ASSUMED_OUTPUT_TOKENS = 250


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


# List prices (USD per 1M tokens, standard tier) as published by OpenAI; check before trusting a bill.
PRICES: dict[str, Price] = {
    "gpt-4": Price(30.0, 60.0),
    "gpt-4-0314": Price(30.0, 60.0),
    "gpt-4-0613": Price(30.0, 60.0),
    "gpt-4-32k": Price(60.0, 120.0),
    "gpt-4-turbo": Price(10.0, 30.0),
    "gpt-4-turbo-2024-04-09": Price(10.0, 30.0),
    "gpt-4-1106-preview": Price(10.0, 30.0),
    "gpt-4-0125-preview": Price(10.0, 30.0),
    "gpt-4o": Price(2.5, 10.0),
    "gpt-4o-2024-05-13": Price(5.0, 15.0),
    "gpt-4o-2024-08-06": Price(2.5, 10.0),
    "gpt-4o-2024-11-20": Price(2.5, 10.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.4, 1.6),
    "gpt-4.1-nano": Price(0.1, 0.4),
    "gpt-3.5-turbo": Price(0.5, 1.5),
    "gpt-3.5-turbo-0125": Price(0.5, 1.5),
    "gpt-5": Price(1.25, 10.0),
    "gpt-5-mini": Price(0.25, 2.0),
    "gpt-5-nano": Price(0.05, 0.4),
}

# The Batch API's price per model: OpenAI bills batches at half the live price.
BATCH_DISCOUNT = 0.5
BATCH_PRICES: dict[str, Price] = {
    model: Price(p.input * BATCH_DISCOUNT, p.output * BATCH_DISCOUNT) for model, p in PRICES.items()
}

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def price_for(model: str, *, input_price: float | None = None, output_price: float | None = None,
              batch: bool = False) -> Price | None:
    """The price of ``model``: the flags if both are given, else the table (a dated snapshot such as
    ``gpt-4o-mini-2024-07-18`` falls back to its undated name), else None (unknown). ``batch``: the
    Batch API's column of the table (the flags then give the batch price)."""
    if input_price is not None and output_price is not None:
        return Price(input_price, output_price)
    table = BATCH_PRICES if batch else PRICES
    known = table.get(model) or table.get(_DATE_SUFFIX.sub("", model))
    if known is None:
        return None
    # One flag alone overrides its half of the table's price.
    return Price(known.input if input_price is None else input_price,
                 known.output if output_price is None else output_price)


def estimate_input_tokens(messages: list[dict[str, str]]) -> int:
    """Offline prompt-token estimate for one chat request (chars/4 plus chat framing)."""
    chars = sum(len(m["content"]) for m in messages)
    return round(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REQUEST


def output_tokens_per_call(max_tokens: int | None = None) -> int:
    """The reply length assumed per call: ``ASSUMED_OUTPUT_TOKENS``, never more than the call's ``max_tokens``."""
    return ASSUMED_OUTPUT_TOKENS if max_tokens is None else min(ASSUMED_OUTPUT_TOKENS, max_tokens)


# Judges that think before they answer, by name (OpenAI's o-series and gpt-5, DeepSeek-R1, QwQ, names that
# say so) or by the request fields that turn thinking on: their replies run to their token limit.
_REASONING_NAME = re.compile(r"(^|/)(o\d|gpt-5)|r1\b|qwq|reason|think", re.IGNORECASE)
_REASONING_FIELDS = ("reasoning_effort", "reasoning", "thinking", "chat_template_kwargs")


def looks_like_reasoning(model: str, request_fields: Mapping[str, Any]) -> bool:
    """Whether a judge is likely to reason before its verdict (a guess from its name and request fields)."""
    return bool(_REASONING_NAME.search(model)) or any(k in request_fields for k in _REASONING_FIELDS)


@dataclass(frozen=True)
class OutputEstimate:
    """The reply length a plan assumes per call, and where the number comes from (said in the plan line)."""

    per_call: int
    basis: str


def estimate_output(max_tokens: int | None, seen: Sequence[int], reasoning: bool) -> OutputEstimate:
    """Per call: the mean of the replies already in the output file (what this judge really writes) when
    there are any; else ``max_tokens`` for a judge that reasons (its thinking is billed as output and runs
    long: the short-reply guess was 10x low); else the short reply FastChat's GPT-4 judge wrote."""
    if seen:
        mean = math.ceil(sum(seen) / len(seen))
        return OutputEstimate(min(mean, max_tokens) if max_tokens else mean,
                              f"the mean of the {len(seen)} replies in the output file")
    if reasoning and max_tokens:
        return OutputEstimate(max_tokens, f"--max-tokens {max_tokens}: a reasoning judge may use it all")
    return OutputEstimate(output_tokens_per_call(max_tokens), "a short reply assumed")


def format_usd(amount: float | None) -> str:
    if amount is None:
        return "unknown"
    return f"${amount:,.2f}" if amount >= 0.1 else f"${amount:,.4f}"
