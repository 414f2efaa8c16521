"""The tokenizer contract both engines share: prompt ids in, generated ids out as FastChat's cleaned text.

The HF and vLLM engines load the same transformers tokenizer (``hf_loading.load_tokenizer``), render with
the same template and call these functions, so both see token-identical prompts and post-process their
continuations identically: an answer can differ between engines only where their arithmetic does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mtbench.core.templates import ConversationFormat
from mtbench.gen_model_answer.engine import FinishReason, GenerationOutput

# transformers' sampling defaults when the model's generation_config sets none (what FastChat ran with).
DEFAULT_TOP_K = 50
DEFAULT_TOP_P = 1.0


def encode_prompts(tokenizer: Any, template: ConversationFormat, prompts: Sequence[str]) -> list[list[int]]:
    """Each rendered prompt's token ids, unpadded: the one tokenizer call every engine makes."""
    return [list(ids) for ids in tokenizer(list(prompts), add_special_tokens=template.add_special_tokens)["input_ids"]]


def encode_option(tokenizer: Any, option: str) -> list[int]:
    """A fixed continuation's ids, tokenized on its own without special tokens (``OptionScorer``)."""
    return list(tokenizer(option, add_special_tokens=False)["input_ids"])


def stop_token_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """EOS ids from the model's generation_config (may be a list) and the tokenizer, in that order."""
    ids: list[int] = []
    sources = (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id)
    for source in sources:
        for i in source if isinstance(source, list) else [source]:
            if i is not None and i not in ids:
                ids.append(i)
    return ids


def sampling_defaults(generation_config: Any) -> tuple[int, float]:
    """(top_k, top_p) the model's generation_config asks for, else transformers' defaults."""
    top_k = getattr(generation_config, "top_k", None)
    top_p = getattr(generation_config, "top_p", None)
    return (top_k if top_k is not None else DEFAULT_TOP_K, top_p if top_p is not None else DEFAULT_TOP_P)


@dataclass(frozen=True)
class Continuations:
    """How generated ids become an answer: FastChat's post-processing, one object per loaded engine."""

    tokenizer: Any
    stop_ids: tuple[int, ...]
    stop_strings: tuple[str, ...]

    @cached_property
    def special_strings(self) -> list[str]:
        return sorted({s for s in self.tokenizer.all_special_tokens if s}, key=len, reverse=True)

    def clean(self, ids: Sequence[int], max_new_tokens: int, prompt_tokens: int,
              ended: bool = False) -> GenerationOutput:
        """Cut at EOS/pad and stop strings, drop special tokens, strip. ``ended``: the engine already
        knows the row stopped before its budget (a padded batch row, a vLLM stop)."""
        ids = list(ids)
        budget_used = len(ids) >= max_new_tokens
        # A row that ended early is padded to the batch's length; padding only ever trails.
        pad = self.tokenizer.pad_token_id
        stopped = ended or (bool(ids) and ids[-1] == pad)
        while ids and ids[-1] == pad:
            ids = ids[:-1]
        stops = set(self.stop_ids)
        for n, token in enumerate(ids):
            if token in stops:
                ids, stopped = ids[:n], True
                break
        raw = self.tokenizer.decode(ids, skip_special_tokens=False)
        text = cut_at_stop_strings(raw, self.stop_strings)
        stopped = stopped or len(text) < len(raw)
        for special in self.special_strings:
            text = text.replace(special, "")
        finish: FinishReason = "length" if budget_used and not stopped else "stop"
        return GenerationOutput(text=text.strip(), new_tokens=len(ids), prompt_tokens=prompt_tokens,
                                finish_reason=finish)


def cut_at_stop_strings(text: str, stop_strings: Sequence[str]) -> str:
    """``text`` up to the first stop string, wherever it is (FastChat keeps one at position 0; we do not:
    an answer that opens with the next turn's marker has said nothing)."""
    cuts = [i for i in (text.find(s) for s in stop_strings if s) if i >= 0]
    return text[: min(cuts)] if cuts else text
