"""gen-answer's configuration: frozen records that check their own values once, when built.

Nothing here imports torch: flags are checked before anything heavy is loaded. What depends on the
machine (is a CUDA GPU visible?) is checked by ``gpu_flags_problem`` against a count the run passes in.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mtbench.core.bench import BenchLayout, per_category_option, question_begin_option, question_end_option
from mtbench.core.json_flags import chat_template_kwargs
from mtbench.core.manifest import Manifest
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.core.reasoning import ReasoningOptions

DTYPES = ("float32", "float16", "bfloat16")
DEVICES = ("auto", "cuda", "cpu")
ENGINES = ("hf", "vllm")  # hf: transformers generate (the reference); vllm: vLLM's engine
# The sizes accelerate's max_memory understands (convert_file_size_to_int), bits ("Gb") left out.
_MEMORY_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMG]i?B)", re.IGNORECASE)


def _at_least_one(**fields: int) -> None:
    for name, value in fields.items():
        check(value >= 1, f"{{{name}}} must be at least 1; got {value}")


def check_memory_size(value: str) -> str:
    """``value`` if it is a size accelerate reads (``40GiB``, ``40GB``, ``4000MiB``), else a ValueError."""
    match = _MEMORY_SIZE.fullmatch(value.strip())
    if not match or float(match.group(1)) <= 0 or match.group(2)[-1] != "B":
        raise ValueError(f"{value!r} is not a memory size: write a number and a unit, e.g. 40GiB, 40GB or 4000MiB")
    return value.strip()


def resolve_engine(name: str) -> str:
    """``auto`` -> ``vllm`` where vLLM is installed and a CUDA GPU is visible, else ``hf``; others as given."""
    if name != "auto":
        return name
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    return "vllm" if visible_cuda_devices() else "hf"


def visible_cuda_devices() -> int:
    """CUDA GPUs this process can use (0 on a CPU-only machine or a CPU build of torch)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


_UNIT_BYTES = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def memory_bytes(value: str) -> int:
    """Bytes in a size ``check_memory_size`` accepts (``40GiB`` -> 42949672960)."""
    match = _MEMORY_SIZE.fullmatch(check_memory_size(value))
    assert match is not None
    return int(float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()])


@dataclass(frozen=True)
class ModelSpec:
    """How to load one replica of the model; everything an actor needs, and picklable."""

    path: str = ""  # filled per model (``GenAnswerRuns.of``)
    engine: str = option("hf", choices=(*ENGINES, "auto"), parse=resolve_engine,
                         help="hf: transformers (the reference); vllm: vLLM; auto: vllm where it imports and a CUDA "
                         "GPU is visible, else hf")
    revision: str = option("main", help="model revision on the hub")
    gguf_file: str | None = option(None, help="GGUF file name inside --model-path (de-quantized by transformers)")
    dtype: str | None = option(None, choices=DTYPES, help="weights dtype", default_help="float16 on CUDA, float32 on CPU")
    device: str = option("auto", choices=DEVICES, help="auto: CUDA when available, else CPU")
    num_gpus: int = option(1, flag="--num-gpus-per-model", help="GPUs per replica (model parallel)")
    max_gpu_memory: str | None = option(
        None, metavar="SIZE", help="per-GPU memory cap for the weights of a model split over GPUs, e.g. 40GiB, 40GB, 4000MiB")
    chat_template: str | None = option(None, metavar="NAME|FILE", help="vicuna_v1.1, llama-2, alpaca, chatml, "
                                       "zero_shot, or a Jinja file", default_help="the tokenizer's chat template")
    chat_template_kwargs: Mapping[str, Any] = option(
        default_factory=dict, metavar="JSON", parse=chat_template_kwargs,
        help="a JSON object passed to apply_chat_template, e.g. '{\"enable_thinking\": true}' (recorded in each answer)")
    batch_size: int = option(16, help="HF engine: prompts per forward batch")
    cpu_threads: int | None = None  # torch intra-op threads (a CPU Ray replica gets its share)
    max_model_len: int | None = option(None, metavar="TOKENS", default_help="the model's",
                                       help="vLLM only: the context vLLM reserves KV cache for")
    cpu_bind: str | None = None  # vLLM on CPU: the cores its threads are bound to, e.g. "0-1" (a replica's)

    def __post_init__(self) -> None:
        _at_least_one(num_gpus=self.num_gpus, batch_size=self.batch_size)
        if self.max_model_len is not None:
            _at_least_one(max_model_len=self.max_model_len)
        for name, value, choices in (("engine", self.engine, ENGINES), ("device", self.device, DEVICES),
                                     ("dtype", self.dtype, DTYPES)):
            check(value is None or value in choices, f"{{{name}}} must be one of {', '.join(choices)}; got {value!r}")
        if self.max_gpu_memory is not None:
            try:
                object.__setattr__(self, "max_gpu_memory", check_memory_size(self.max_gpu_memory))
            except ValueError as e:
                raise ConfigError(f"{{max_gpu_memory}} {e}") from None
        check(self.max_model_len is None or self.engine == "vllm",
              "{max_model_len} applies to {engine} vllm only (the HF engine has no KV cache to size)")


@dataclass(frozen=True)
class AnswerSettings:
    """What shapes the answers themselves (the same on every replica)."""

    model_id: str = ""  # filled per model (``GenAnswerRuns.of``)
    max_new_token: int = option(1024, help="new tokens per turn")
    num_choices: int = option(1, help="independent conversations per question")
    seed: int = option(0, help="base of the per-question sampling seeds")
    reasoning: ReasoningOptions = nested(default_factory=ReasoningOptions)
    # The bench's temperatures per category (filled from the layout by ``GenAnswerConfig``; None: MT-bench's).
    manifest: Manifest | None = None

    def __post_init__(self) -> None:
        _at_least_one(max_new_token=self.max_new_token, num_choices=self.num_choices)


def replica_count(num_gpus_total: int, num_gpus_per_model: int) -> int:
    """Replicas = total GPUs / GPUs per replica, which must divide (errors name ``GenAnswerConfig``'s fields)."""
    _at_least_one(num_gpus_total=num_gpus_total)
    check(num_gpus_total % num_gpus_per_model == 0,
          f"{{num_gpus_total}} {num_gpus_total} is not a multiple of {{model.num_gpus}} {num_gpus_per_model}")
    return num_gpus_total // num_gpus_per_model


@dataclass(frozen=True)
class GenAnswerConfig:
    """One gen-answer run: the model, the answers' settings, which questions, where, on how many replicas."""

    model: ModelSpec = nested(default_factory=ModelSpec)
    answers: AnswerSettings = nested(default_factory=AnswerSettings)
    layout: BenchLayout = nested(default_factory=BenchLayout)
    question_begin: int | None = question_begin_option()
    question_end: int | None = question_end_option()
    per_category: int | None = per_category_option()
    answer_file: Path | None = option(None, help="output", default_help="DATA/BENCH/model_answer/MODEL_ID.jsonl")
    # replicas = num_gpus_total / model.num_gpus (on CPU: just the replica count)
    num_gpus_total: int = option(1, help="GPUs in all; replicas = total / per model")
    num_cpus_per_replica: int = option(1, help="CPU replicas: Ray CPUs and torch threads each")
    ray_address: str | None = option(None, help="join this Ray cluster, e.g. HEAD_IP:6379 or auto",
                                     default_help="$RAY_ADDRESS, which `ray job submit` sets")
    retry_failed: bool = option(False, help="regenerate answers recorded as failed")
    progress: bool = option(True, flag="--no-progress", help="no progress bar")

    def __post_init__(self) -> None:
        if self.ray_address is None and os.environ.get("RAY_ADDRESS"):
            object.__setattr__(self, "ray_address", os.environ["RAY_ADDRESS"])
        _at_least_one(num_cpus_per_replica=self.num_cpus_per_replica)
        replica_count(self.num_gpus_total, self.model.num_gpus)
        if self.answers.manifest is None:
            object.__setattr__(self, "answers", replace(self.answers, manifest=self.layout.manifest))

    @property
    def replicas(self) -> int:
        return replica_count(self.num_gpus_total, self.model.num_gpus)

    @property
    def output_file(self) -> Path:
        return self.answer_file or self.layout.answer_file(self.answers.model_id)

    def provenance(self) -> dict[str, Any]:
        """What every answer record keeps of how it was generated: the engine and the generation flags as
        given (``dtype`` None and ``device`` auto are resolved per replica, which records its own place)."""
        return {
            "engine": self.model.engine,
            "generation": {
                "dtype": self.model.dtype,
                "device": self.model.device,
                "batch_size": self.model.batch_size,
                "max_new_token": self.answers.max_new_token,
                "seed": self.answers.seed,
                "revision": self.model.revision,
                **({"max_model_len": self.model.max_model_len} if self.model.max_model_len else {}),
            },
        }


@dataclass(frozen=True)
class GenAnswerRuns:
    """Several checkpoints in one gen-answer run: one config per model, each with its own answer file;
    the replicas, device and cluster are the first one's (``of`` builds every config from one)."""

    runs: tuple[GenAnswerConfig, ...]

    def __post_init__(self) -> None:
        check(bool(self.runs), "{model_path}: give at least one model")
        seen: dict[Path, str] = {}
        for run in self.runs:
            check(run.output_file not in seen, f"{{model_id}} {run.answers.model_id}: {seen.get(run.output_file)} "
                  f"already writes {run.output_file}; give each model its own id")
            seen[run.output_file] = run.answers.model_id

    @classmethod
    def of(cls, base: GenAnswerConfig, paths: Sequence[str], model_ids: Sequence[str]) -> GenAnswerRuns:
        """``base`` once per (path, id) pair: the pairs must match one to one (errors name ``GenAnswerJob``'s
        fields)."""
        check(len(paths) == len(model_ids), f"{{model_path}} has {len(paths)} value(s) but {{model_id}} has "
              f"{len(model_ids)}; give one id per model, in the same order")
        check(len(paths) <= 1 or base.answer_file is None, "{settings.answer_file} names one file; with several "
              "models each writes DATA/BENCH/model_answer/MODEL_ID.jsonl")
        return cls(tuple(
            replace(base, model=replace(base.model, path=path), answers=replace(base.answers, model_id=model_id))
            for path, model_id in zip(paths, model_ids, strict=True)
        ))

    @property
    def shared(self) -> GenAnswerConfig:
        """The settings every model shares (replicas, device, cluster)."""
        return self.runs[0]


@dataclass(frozen=True)
class GenAnswerJob:
    """What `mtbench gen-answer` is asked: the models (paths and ids, one to one) and the settings they share."""

    model_path: tuple[str, ...] = option(metavar="PATH", help="local model folder (or a Hugging Face hub id already "
                                         "in the local cache); several checkpoints share one run")
    model_id: tuple[str, ...] = option(metavar="ID", help="your name for the model: the answer file's name (one per "
                                       "--model-path)")
    settings: GenAnswerConfig = nested(default_factory=GenAnswerConfig)

    def runs(self) -> GenAnswerRuns:
        return GenAnswerRuns.of(self.settings, self.model_path, self.model_id)


def gpu_flags_problem(cfg: GenAnswerConfig, cuda_devices: int, where: str = "visible") -> str | None:
    """Why the GPU flags cannot be honoured with ``cuda_devices`` GPUs (``where``: visible, or in a Ray
    cluster), or None.

    Without a GPU, ``--device auto`` would quietly become CPU and the GPU counts would mean nothing; only
    ``--device cpu`` says that CPU replicas are what the user wants.
    """
    if cfg.model.device == "cpu":
        return None
    gpus = cfg.num_gpus_total
    if cuda_devices == 0 and (cfg.model.device == "cuda" or gpus > 1):
        flag = "--device cuda" if cfg.model.device == "cuda" else f"--num-gpus-total {gpus}"
        return (
            f"{flag}: no CUDA GPU is {where}; to run CPU replicas instead pass --device cpu "
            "(--num-gpus-total then counts replicas, each with --num-cpus-per-replica CPUs)"
        )
    if 0 < cuda_devices < gpus:
        return f"--num-gpus-total {gpus}: only {cuda_devices} CUDA GPU(s) are {where}"
    return None


def ignored_gpu_flags(cfg: GenAnswerConfig, device: str) -> str | None:
    """A warning for a GPU flag that has no effect on ``device`` (as in FastChat, the HF engine's memory cap
    only shapes how a model is split over several GPUs; vLLM sizes its memory share on one GPU too)."""
    if cfg.model.engine == "vllm":
        if cfg.model.max_gpu_memory and device == "cpu":
            return "--max-gpu-memory caps GPU memory; vLLM on CPU sizes its KV cache by VLLM_CPU_KVCACHE_SPACE; ignored"
        return None
    if cfg.model.max_gpu_memory and (device == "cpu" or cfg.model.num_gpus == 1):
        return "--max-gpu-memory only caps a model split over GPUs (--num-gpus-per-model > 1 on CUDA); ignored"
    return None


@dataclass(frozen=True)
class GenSummary:
    """What a run did, for the CLI's closing line."""

    answer_file: Path
    selected: int  # questions in --question-begin/--question-end
    skipped: int  # already answered on disk
    written: int  # answered now (including failures)
    failed: int  # of those, failure records
    replicas: int
    cut_while_reasoning: int = 0  # turns the token limit cut inside their reasoning: empty answers
