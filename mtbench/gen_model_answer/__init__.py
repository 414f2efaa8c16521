"""Answers from a local Hugging Face model (FastChat's ``gen_model_answer.py``), batched and resumable.

Layers, from the inside out:

* ``Generator`` (the GPU seam): prompts + sampling params in, texts (or failure reasons) out.
  ``HFGenerator`` is the transformers implementation: left-padded batches sorted by length, per-row seeded
  sampling, EOS and stop strings, special tokens stripped.
* ``answer_questions``: one chunk of questions through a ``Generator``, every turn-1 prompt first, then every
  turn-2 prompt (which holds the model's own turn-1 answer); returns FastChat answer records.
* ``gen_model_answer``: selects the questions still to answer, shards them over replicas (in process, or
  Ray actors that each load the model once), appends each finished answer to the answer file, and at the
  end rewrites the file sorted by question id, one line per id.

Reproducibility: every (question, choice, turn) samples from its own ``torch.Generator`` seeded from
``sha256(f"{seed}:{question_id}:{choice}")`` and the turn, so an answer depends neither on which other
questions share its batch nor on the number of replicas. Greedy rows (temperature < 1e-4) do not sample.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mtbench.answer_file import answer_run, existing_answers, questions_to_ask, select_questions
from mtbench.bench import BenchLayout, question_temperature
from mtbench.errors import RunFailed, UserError
from mtbench.records import (
    Answer,
    Choice,
    JsonlWriter,
    Question,
)
from mtbench.templates import ConversationFormat, conversation, resolve_template

log = logging.getLogger("mtbench")

GREEDY_BELOW = 1e-4  # FastChat: temperatures below this decode greedily
DTYPES = ("float32", "float16", "bfloat16")
DEVICES = ("auto", "cuda", "cpu")
# transformers' sampling defaults when the model's generation_config sets none (what FastChat ran with).
DEFAULT_TOP_K = 50
DEFAULT_TOP_P = 1.0


# ---------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class ModelSpec:
    """How to load one replica of the model; everything an actor needs, and picklable."""

    path: str
    revision: str = "main"
    gguf_file: str | None = None
    dtype: str | None = None  # None: float16 on CUDA (as FastChat), float32 on CPU
    device: str = "auto"  # auto: CUDA when present, else CPU
    num_gpus: int = 1  # GPUs per replica (model parallel through accelerate's device_map)
    max_gpu_memory: str | None = None  # per-GPU cap for the weights, e.g. "40GiB"
    chat_template: str | None = None  # a named template or a Jinja file; None: the tokenizer's
    batch_size: int = 16
    cpu_threads: int | None = None  # torch intra-op threads (a CPU Ray replica gets its share)


@dataclass(frozen=True)
class AnswerSettings:
    """What shapes the answers themselves (the same on every replica)."""

    model_id: str
    max_new_token: int = 1024
    num_choices: int = 1
    seed: int = 0


@dataclass(frozen=True)
class GenAnswerConfig:
    model: ModelSpec
    answers: AnswerSettings
    layout: BenchLayout = field(default_factory=BenchLayout)
    question_begin: int | None = None
    question_end: int | None = None
    answer_file: Path | None = None  # default: the layout's model_answer/<model_id>.jsonl
    num_gpus_total: int = 1  # replicas = num_gpus_total / model.num_gpus (on CPU: just the replica count)
    num_cpus_per_replica: int = 1  # CPU replicas' Ray resource request and torch threads
    ray_address: str | None = None  # join this Ray cluster instead of starting a local one
    retry_failed: bool = False
    progress: bool = True

    @property
    def output_file(self) -> Path:
        return self.answer_file or self.layout.answer_file(self.answers.model_id)


@dataclass(frozen=True)
class GenSummary:
    answer_file: Path
    selected: int  # questions in --question-begin/--question-end
    skipped: int  # already answered on disk
    written: int  # answered now (including failures)
    failed: int  # of those, failure records
    replicas: int


# ---------------------------------------------------------------------------------------------------
# the generation seam


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    max_new_tokens: int
    seed: int  # seeds this row's own generator; unused when greedy

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


@dataclass(frozen=True)
class GenerationOutput:
    text: str | None  # None exactly when the generation failed
    error: str | None = None
    new_tokens: int = 0  # tokens generated before EOS (what throughput counts)


class Generator(Protocol):
    template: ConversationFormat

    def generate(self, prompts: Sequence[str], params: Sequence[SamplingParams]) -> list[GenerationOutput]: ...


def row_seed(seed: int, question_id: int, choice: int, turn: int) -> int:
    """A stable 63-bit seed per (question, choice, turn); never Python's salted ``hash()``."""
    digest = hashlib.sha256(f"{seed}:{question_id}:{choice}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + turn) % (2**63)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    return device


def resolve_dtype(dtype: str | None, device: str):
    import torch

    if dtype is None:
        dtype = "float16" if device == "cuda" else "float32"
    return getattr(torch, dtype)


def load_tokenizer(spec: ModelSpec):
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"revision": spec.revision}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.path, **kwargs)
    except (OSError, ValueError) as e:
        raise UserError(f"--model-path {spec.path}: cannot load the tokenizer ({_first_line(e)})") from None
    tokenizer.padding_side = "left"  # decoder-only batches: every row's last prompt token at the same column
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _max_memory(spec: ModelSpec) -> dict[int, str]:
    import torch

    if spec.max_gpu_memory:
        return {i: spec.max_gpu_memory for i in range(spec.num_gpus)}
    # FastChat: without a cap, 85% of what is free on each GPU.
    out = {}
    for i in range(spec.num_gpus):
        free, _ = torch.cuda.mem_get_info(i)
        out[i] = f"{int(free * 0.85 / 2**30)}GiB"
    return out


def load_generator(spec: ModelSpec) -> HFGenerator:
    """Load tokenizer and weights for one replica (on the GPUs this process sees, or the CPU)."""
    import torch
    from transformers import AutoModelForCausalLM

    if spec.cpu_threads:
        torch.set_num_threads(spec.cpu_threads)
    device = resolve_device(spec.device)
    tokenizer = load_tokenizer(spec)
    template = resolve_template(spec.chat_template, tokenizer)
    kwargs: dict[str, Any] = {"revision": spec.revision, "dtype": resolve_dtype(spec.dtype, device)}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file  # transformers de-quantizes GGUF weights to `dtype`
    if device == "cuda" and spec.num_gpus > 1:
        # Model parallel over this replica's GPUs; FastChat's choice of map for each case.
        kwargs["device_map"] = "auto" if spec.max_gpu_memory else "sequential"
        kwargs["max_memory"] = _max_memory(spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(spec.path, **kwargs)
    except (OSError, ValueError) as e:
        raise UserError(f"--model-path {spec.path}: cannot load the model ({_first_line(e)})") from None
    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    return HFGenerator(model=model, tokenizer=tokenizer, template=template, batch_size=spec.batch_size)


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
        gc = model.generation_config
        self.top_k = gc.top_k if gc.top_k is not None else DEFAULT_TOP_K
        self.top_p = gc.top_p if gc.top_p is not None else DEFAULT_TOP_P
        self.stop_ids = self._stop_token_ids()
        self.special_strings = sorted(
            {s for s in tokenizer.all_special_tokens if s}, key=len, reverse=True
        )

    def _stop_token_ids(self) -> list[int]:
        ids: list[int] = []
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            for i in source if isinstance(source, list) else [source]:
                if i is not None and i not in ids:
                    ids.append(i)
        return ids

    def prompt_lengths(self, prompts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(prompts), add_special_tokens=self.template.add_special_tokens)
        return [len(ids) for ids in enc["input_ids"]]

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
            reason = f"{type(e).__name__}: {_first_line(e)}"
            if len(prompts) == 1:
                log.warning("generation failed: %s", reason)
                return [GenerationOutput(text=None, error=reason)]
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

        enc = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=self.template.add_special_tokens
        )
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
                **({"cache": cache} if cache is not None else {}),
            )
        new_tokens = out[:, input_ids.shape[1] :].tolist()
        return [self._clean(ids[: p.max_new_tokens]) for ids, p in zip(new_tokens, params, strict=True)]

    def _prefill_unpadded(self, input_ids, attention_mask):
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

    def _clean(self, ids: list[int]) -> GenerationOutput:
        """FastChat's post-processing: cut at EOS/pad and stop strings, drop special tokens, strip."""
        # A row that ended early is padded to the batch's length; padding only ever trails.
        pad = self.tokenizer.pad_token_id
        while ids and ids[-1] == pad:
            ids = ids[:-1]
        stops = set(self.stop_ids)
        for n, token in enumerate(ids):
            if token in stops:
                ids = ids[:n]
                break
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        text = cut_at_stop_strings(text, self.template.stop_strings)
        for special in self.special_strings:
            text = text.replace(special, "")
        return GenerationOutput(text=text.strip(), new_tokens=len(ids))


def cut_at_stop_strings(text: str, stop_strings: Sequence[str]) -> str:
    """``text`` up to the first stop string, wherever it is (FastChat keeps one at position 0; we do not:
    an answer that opens with the next turn's marker has said nothing)."""
    cuts = [i for i in (text.find(s) for s in stop_strings if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


# ---------------------------------------------------------------------------------------------------
# questions -> answers (one chunk, one replica)


def answer_questions(generator: Generator, questions: Sequence[Question], settings: AnswerSettings) -> list[Answer]:
    """Both turns for ``questions``: every turn-1 prompt first, then every turn-2 prompt.

    A row (question, choice) whose turn fails stops there: its record carries ``error`` and only the turns
    that completed, and no later turn is generated from a failed one.
    """
    rows = [(q, c) for q in questions for c in range(settings.num_choices)]
    texts: dict[tuple[int, int], list[str]] = {(q.question_id, c): [] for q, c in rows}
    errors: dict[tuple[int, int], str] = {}
    for turn in range(max((len(q.turns) for q in questions), default=0)):
        active = [(q, c) for q, c in rows if len(q.turns) > turn and (q.question_id, c) not in errors]
        if not active:
            break
        prompts = [generator.template.render(conversation(q.turns, texts[q.question_id, c])) for q, c in active]
        params = [
            SamplingParams(
                temperature=question_temperature(q),
                max_new_tokens=settings.max_new_token,
                seed=row_seed(settings.seed, q.question_id, c, turn),
            )
            for q, c in active
        ]
        for (q, c), result in zip(active, generator.generate(prompts, params), strict=True):
            if result.text is None:
                errors[q.question_id, c] = f"turn {turn + 1}: {result.error}"
            else:
                texts[q.question_id, c].append(result.text)
    return [_answer_record(q, settings, generator.template.name, texts, errors) for q in questions]


def _answer_record(q: Question, settings: AnswerSettings, template: str, texts, errors) -> Answer:
    import shortuuid

    choices = range(settings.num_choices)
    failures = [
        errors[q.question_id, c] if settings.num_choices == 1 else f"choice {c}: {errors[q.question_id, c]}"
        for c in choices
        if (q.question_id, c) in errors
    ]
    return Answer(
        question_id=q.question_id,
        answer_id=shortuuid.uuid(),
        model_id=settings.model_id,
        choices=tuple(Choice(index=c, turns=tuple(texts[q.question_id, c])) for c in choices),
        tstamp=time.time(),
        error="; ".join(failures) if failures else None,
        extra={"chat_template": template, "seed": settings.seed},
    )


# ---------------------------------------------------------------------------------------------------
# work planning (pure)


def balanced_shards(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``n`` shards whose sizes differ by at most one (never an empty or tiny tail shard)."""
    n = max(1, min(n, len(items)))
    base, extra = divmod(len(items), n)
    shards, start = [], 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        shards.append(list(items[start : start + size]))
        start += size
    return shards


def chunks_of(items: Sequence[Any], max_size: int) -> list[list[Any]]:
    """Consecutive chunks of at most ``max_size``, as even as possible (27 by 16 -> 14 + 13)."""
    if not items:
        return []
    return balanced_shards(items, math.ceil(len(items) / max_size))


def plan_replica_chunks(questions: Sequence[Question], replicas: int, batch_size: int) -> list[list[list[Question]]]:
    """Per replica, the chunks it answers in order. Questions are sorted by turn-1 length so a chunk's
    prompts pad little, then dealt round-robin so every replica gets the same mix of lengths."""
    ordered = sorted(questions, key=lambda q: (len(q.turns[0]), q.question_id))
    replicas = max(1, min(replicas, len(ordered)))
    shards = [ordered[i::replicas] for i in range(replicas)]
    return [chunks_of(shard, batch_size) for shard in shards]


def replica_count(num_gpus_total: int, num_gpus_per_model: int) -> int:
    if num_gpus_per_model < 1 or num_gpus_total < 1:
        raise UserError("--num-gpus-per-model and --num-gpus-total must be at least 1")
    if num_gpus_total % num_gpus_per_model:
        raise UserError(
            f"--num-gpus-total {num_gpus_total} is not a multiple of --num-gpus-per-model {num_gpus_per_model}"
        )
    return num_gpus_total // num_gpus_per_model


# ---------------------------------------------------------------------------------------------------
# the run


def _check(cfg: GenAnswerConfig) -> None:
    s = cfg.answers
    if s.max_new_token < 1 or s.num_choices < 1 or cfg.model.batch_size < 1 or cfg.num_cpus_per_replica < 1:
        raise UserError("--max-new-token, --num-choices, --batch-size and --num-cpus-per-replica must be >= 1")
    if cfg.model.device not in DEVICES:
        raise UserError(f"--device must be one of {', '.join(DEVICES)}")
    if cfg.model.dtype is not None and cfg.model.dtype not in DTYPES:
        raise UserError(f"--dtype must be one of {', '.join(DTYPES)}")


def gen_model_answer(cfg: GenAnswerConfig, generator_factory: Callable[[ModelSpec], Generator] | None = None) -> GenSummary:
    """Answer every selected question not yet answered in the answer file; see the module docstring.

    ``generator_factory`` replaces model loading in the single-replica path (tests use it to inject
    failures); Ray replicas always load the real model.
    """
    _check(cfg)
    replicas = replica_count(cfg.num_gpus_total, cfg.model.num_gpus)
    questions = select_questions(cfg.layout.question_file, cfg.question_begin, cfg.question_end)
    path = cfg.output_file
    written = failed = 0
    with answer_run(path, "gen-answer"):
        pending = questions_to_ask(questions, existing_answers(path), cfg.retry_failed)
        skipped = len(questions) - len(pending)
        if skipped:
            log.info("%s: %d of %d questions already answered; skipping them", path, skipped, len(questions))
        replicas = max(1, min(replicas, len(pending)))
        if pending:
            # Load (or check) everything before the first line of output, so a bad template or model
            # path is a clean one-line error.
            answers = _start(cfg, plan_replica_chunks(pending, replicas, cfg.model.batch_size), generator_factory)
            with JsonlWriter(path) as writer, _progress(len(pending), cfg.progress) as bar:
                for answer in answers:
                    writer.write(answer)
                    written += 1
                    failed += answer.failed
                    bar.update(1)
    if written and failed == written:
        raise RunFailed(
            f"every generation failed ({failed} questions); see the 'error' fields in {path}, "
            "then rerun with --retry-failed"
        )
    return GenSummary(path, len(questions), skipped, written, failed, replicas if pending else 0)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="question", desc="gen-answer", disable=not enabled, dynamic_ncols=True)


def _start(cfg: GenAnswerConfig, plan: list[list[list[Question]]], factory) -> Iterator[Answer]:
    """Load the model (one replica) or check the template (Ray), then return the stream of answers."""
    if len(plan) == 1:
        generator = (factory or load_generator)(cfg.model)
        return (answer for chunk in plan[0] for answer in answer_questions(generator, chunk, cfg.answers))
    resolve_template(cfg.model.chat_template, load_tokenizer(cfg.model))
    return _ray_answers(cfg, plan)


# ---------------------------------------------------------------------------------------------------
# Ray: the one place that shards work over replicas and merges their results


class _Replica:
    """A Ray actor: loads the model once, then answers the chunks it is sent, one at a time."""

    def __init__(self, spec: ModelSpec, settings: AnswerSettings):
        self.generator = load_generator(spec)
        self.settings = settings

    def answer(self, questions: list[Question]) -> list[Answer]:
        return answer_questions(self.generator, questions, self.settings)


def _ray_answers(cfg: GenAnswerConfig, plan: list[list[list[Question]]]) -> Iterator[Answer]:
    import ray

    replicas = len(plan)
    # Joining a cluster, the driver may be a GPU-less head node: "auto" then asks the cluster, not torch.
    wanted = cfg.model.device if cfg.ray_address else resolve_device(cfg.model.device)
    started_here = not ray.is_initialized()
    if started_here:
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, log_to_driver=False)
        elif wanted == "cuda":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=replicas * cfg.num_cpus_per_replica, include_dashboard=False, log_to_driver=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        device = wanted if wanted != "auto" else ("cuda" if gpus > 0 else "cpu")
        if device == "cuda":
            if gpus < replicas * cfg.model.num_gpus:
                raise UserError(
                    f"{replicas} replicas x {cfg.model.num_gpus} GPUs need {replicas * cfg.model.num_gpus} GPUs; "
                    f"the Ray cluster has {gpus:g}"
                )
            resources = {"num_gpus": cfg.model.num_gpus, "num_cpus": 1}
            spec = replace(cfg.model, device="cuda")
        else:
            resources = {"num_cpus": cfg.num_cpus_per_replica}
            spec = replace(cfg.model, device="cpu", cpu_threads=cfg.model.cpu_threads or cfg.num_cpus_per_replica)
        actor_class = ray.remote(_Replica)
        actors = [actor_class.options(**resources).remote(spec, cfg.answers) for _ in range(replicas)]
        # Each actor runs its calls in order; the driver writes whatever chunk finishes first.
        pending = [actor.answer.remote(chunk) for actor, chunks in zip(actors, plan, strict=True) for chunk in chunks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                answers = ray.get(done[0])
            except ray.exceptions.RayError as e:
                raise _ray_failure(e) from None
            yield from answers
    finally:
        if started_here:
            ray.shutdown()


def _ray_failure(e: Exception) -> Exception:
    cause = getattr(e, "cause", None)
    if isinstance(cause, (UserError, RunFailed)):
        return cause
    return RunFailed(f"a Ray replica failed: {_first_line(cause or e)}")
