"""gen-answer's configuration: frozen records that check their own values once, when built.

Nothing here imports torch: flags are checked before anything heavy is loaded. What depends on the
machine (is a CUDA GPU visible?) is checked by ``gpu_flags_problem`` against a count the run passes in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.reasoning import ReasoningOptions

DTYPES = ("float32", "float16", "bfloat16")
DEVICES = ("auto", "cuda", "cpu")
ENGINES = ("hf", "vllm")  # hf: transformers generate (the reference); vllm: vLLM's engine
# The sizes accelerate's max_memory understands (convert_file_size_to_int), bits ("Gb") left out.
_MEMORY_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMG]i?B)", re.IGNORECASE)


def _at_least_one(**flags: int) -> None:
    for name, value in flags.items():
        if value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1; got {value}")


def check_memory_size(value: str) -> str:
    """``value`` if it is a size accelerate reads (``40GiB``, ``40GB``, ``4000MiB``), else a UserError."""
    match = _MEMORY_SIZE.fullmatch(value.strip())
    if not match or float(match.group(1)) <= 0 or match.group(2)[-1] != "B":
        raise UserError(
            f"--max-gpu-memory {value!r} is not a memory size: write a number and a unit, "
            "e.g. 40GiB, 40GB or 4000MiB"
        )
    return value.strip()


_UNIT_BYTES = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def memory_bytes(value: str) -> int:
    """Bytes in a size ``check_memory_size`` accepts (``40GiB`` -> 42949672960)."""
    match = _MEMORY_SIZE.fullmatch(check_memory_size(value))
    assert match is not None
    return int(float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()])


@dataclass(frozen=True)
class ModelSpec:
    """How to load one replica of the model; everything an actor needs, and picklable."""

    path: str
    engine: str = "hf"
    revision: str = "main"
    gguf_file: str | None = None
    dtype: str | None = None  # None: float16 on CUDA (as FastChat), float32 on CPU
    device: str = "auto"  # auto: CUDA when present, else CPU
    num_gpus: int = 1  # GPUs per replica (model parallel through accelerate's device_map)
    max_gpu_memory: str | None = None  # per-GPU cap for the weights, e.g. "40GiB"
    chat_template: str | None = None  # a named template or a Jinja file; None: the tokenizer's
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)  # to apply_chat_template
    batch_size: int = 16
    cpu_threads: int | None = None  # torch intra-op threads (a CPU Ray replica gets its share)
    max_model_len: int | None = None  # vLLM: the context it reserves KV cache for (None: the model's)
    cpu_bind: str | None = None  # vLLM on CPU: the cores its threads are bound to, e.g. "0-1" (a replica's)

    def __post_init__(self) -> None:
        _at_least_one(num_gpus_per_model=self.num_gpus, batch_size=self.batch_size)
        if self.max_model_len is not None:
            _at_least_one(max_model_len=self.max_model_len)
        if self.engine not in ENGINES:
            raise UserError(f"--engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if self.device not in DEVICES:
            raise UserError(f"--device must be one of {', '.join(DEVICES)}; got {self.device!r}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise UserError(f"--dtype must be one of {', '.join(DTYPES)}; got {self.dtype!r}")
        if self.max_gpu_memory is not None:
            object.__setattr__(self, "max_gpu_memory", check_memory_size(self.max_gpu_memory))
        if self.max_model_len is not None and self.engine != "vllm":
            raise UserError("--max-model-len applies to --engine vllm only (the HF engine has no KV cache to size)")


@dataclass(frozen=True)
class AnswerSettings:
    """What shapes the answers themselves (the same on every replica)."""

    model_id: str
    max_new_token: int = 1024
    num_choices: int = 1
    seed: int = 0
    reasoning: ReasoningOptions = field(default_factory=ReasoningOptions)

    def __post_init__(self) -> None:
        _at_least_one(max_new_token=self.max_new_token, num_choices=self.num_choices)


def replica_count(num_gpus_total: int, num_gpus_per_model: int) -> int:
    """Replicas = total GPUs / GPUs per replica, which must divide."""
    _at_least_one(num_gpus_total=num_gpus_total, num_gpus_per_model=num_gpus_per_model)
    if num_gpus_total % num_gpus_per_model:
        raise UserError(
            f"--num-gpus-total {num_gpus_total} is not a multiple of --num-gpus-per-model {num_gpus_per_model}"
        )
    return num_gpus_total // num_gpus_per_model


@dataclass(frozen=True)
class GenAnswerConfig:
    """One gen-answer run: the model, the answers' settings, which questions, where, on how many replicas."""

    model: ModelSpec
    answers: AnswerSettings
    layout: BenchLayout = field(default_factory=BenchLayout)
    question_begin: int | None = None
    question_end: int | None = None
    per_category: int | None = None  # then only the first N questions of each category
    answer_file: Path | None = None  # default: the layout's model_answer/<model_id>.jsonl
    num_gpus_total: int = 1  # replicas = num_gpus_total / model.num_gpus (on CPU: just the replica count)
    num_cpus_per_replica: int = 1  # CPU replicas' Ray resource request and torch threads
    ray_address: str | None = None  # join this Ray cluster instead of starting a local one
    retry_failed: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        _at_least_one(num_cpus_per_replica=self.num_cpus_per_replica)
        replica_count(self.num_gpus_total, self.model.num_gpus)

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
        if not self.runs:
            raise UserError("--model-path: give at least one model")
        seen: dict[Path, str] = {}
        for run in self.runs:
            if run.output_file in seen:
                raise UserError(
                    f"--model-id {run.answers.model_id}: {seen[run.output_file]} already writes "
                    f"{run.output_file}; give each model its own id"
                )
            seen[run.output_file] = run.answers.model_id

    @classmethod
    def of(cls, base: GenAnswerConfig, paths: Sequence[str], model_ids: Sequence[str]) -> GenAnswerRuns:
        """``base`` once per (path, id) pair: the pairs must match one to one."""
        if len(paths) != len(model_ids):
            raise UserError(
                f"--model-path has {len(paths)} value(s) but --model-id has {len(model_ids)}; "
                "give one id per model, in the same order"
            )
        if len(paths) > 1 and base.answer_file is not None:
            raise UserError(
                "--answer-file names one file; with several models each writes DATA/BENCH/model_answer/MODEL_ID.jsonl"
            )
        return cls(tuple(
            replace(base, model=replace(base.model, path=path), answers=replace(base.answers, model_id=model_id))
            for path, model_id in zip(paths, model_ids, strict=True)
        ))

    @property
    def shared(self) -> GenAnswerConfig:
        """The settings every model shares (replicas, device, cluster)."""
        return self.runs[0]


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
