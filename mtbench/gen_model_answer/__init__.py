"""Answers from a local model on transformers or vLLM (FastChat's ``gen_model_answer.py``), resumable.

Modules, from the inside out:

* ``engine``: the seam. ``Generator`` takes rendered prompts and per-request ``SamplingParams`` and
  returns one ``GenerationOutput`` per prompt (text or failure, token counts, finish reason).
* ``hf_generator``: ``HFGenerator``, the transformers engine (length-sorted left-padded batches, per-row
  unpadded prefill, per-row seeded sampling, EOS and stop strings, special tokens stripped).
* ``tokenization``: the tokenizer calls both engines share (prompt ids, EOS ids, cleaning of the ids
  generated), so the engines see token-identical prompts.
* ``vllm_generator``: ``VLLMGenerator``, the vLLM engine (prompts as token ids, per-request seeds,
  pipelined turns through ``add_request``/``step``).
* ``hf_loading``: checks ``--model-path``/``--gguf-file`` on disk, picks device and dtype, loads a replica.
* ``answering``: one chunk of questions through any ``Generator`` (``engine.drive``): each turn 2 holds
  the model's own turn-1 answer, asked in waves (HF) or as soon as that turn 1 is done (vLLM).
* ``planning``: which replica answers which questions, in which chunks, and what a free replica does next
  (pure).
* ``ray_pool``: Ray actors spread over a cluster's nodes, each loading a model once; the one place work is
  sharded and merged, a lost replica's work retried on the others.
* ``local``: the run: each model's answer file held first, GPU flags checked, answers appended by the
  driver as they finish; several models (checkpoints) in one run.
* ``config``: the frozen configs, each validating itself when built.

Nothing here imports torch, transformers or Ray at import time.
"""

from mtbench.gen_model_answer.answering import answer_questions, row_seed
from mtbench.gen_model_answer.config import (
    DEVICES,
    DTYPES,
    AnswerSettings,
    GenAnswerConfig,
    GenAnswerRuns,
    GenSummary,
    ModelSpec,
    check_memory_size,
    gpu_flags_problem,
    replica_count,
)
from mtbench.gen_model_answer.engine import (
    GREEDY_BELOW,
    FinishReason,
    GenerationOutput,
    Generator,
    Pipelining,
    Request,
    SamplingParams,
    drive,
)
from mtbench.gen_model_answer.hf_generator import HFGenerator
from mtbench.gen_model_answer.hf_loading import (
    check_model_location,
    load_generator,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)
from mtbench.gen_model_answer.local import ModelOutcome, gen_model_answer, gen_model_answers
from mtbench.gen_model_answer.planning import (
    WorkQueue,
    balanced_shards,
    chunks_of,
    interleave,
    plan_replica_chunks,
)
from mtbench.gen_model_answer.tokenization import (
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    cut_at_stop_strings,
    encode_prompts,
)
from mtbench.gen_model_answer.vllm_generator import VLLMGenerator, load_vllm_generator

__all__ = [
    "DEFAULT_TOP_K",
    "DEFAULT_TOP_P",
    "DEVICES",
    "DTYPES",
    "GREEDY_BELOW",
    "AnswerSettings",
    "FinishReason",
    "GenAnswerConfig",
    "GenAnswerRuns",
    "GenSummary",
    "GenerationOutput",
    "Generator",
    "HFGenerator",
    "Pipelining",
    "Request",
    "VLLMGenerator",
    "ModelOutcome",
    "ModelSpec",
    "SamplingParams",
    "WorkQueue",
    "answer_questions",
    "balanced_shards",
    "check_memory_size",
    "check_model_location",
    "chunks_of",
    "cut_at_stop_strings",
    "drive",
    "encode_prompts",
    "gen_model_answer",
    "gen_model_answers",
    "gpu_flags_problem",
    "interleave",
    "load_generator",
    "load_tokenizer",
    "load_vllm_generator",
    "plan_replica_chunks",
    "replica_count",
    "resolve_device",
    "resolve_dtype",
    "row_seed",
]
