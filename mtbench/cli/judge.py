"""`mtbench judge`: grade answers with an LLM judge (FastChat's gen_judgment.py, resumable, no Enter prompt)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mtbench.cli.common import (
    add_budget_args,
    add_endpoint_args,
    add_layout_args,
    add_per_category_arg,
    endpoint_from,
    layout_from,
)
from mtbench.core.bench import DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, DEFAULT_REFERENCE, MODES


def register(sub) -> None:
    parser = sub.add_parser(
        "judge",
        help="grade model answers with an LLM judge (single, pairwise-baseline, pairwise-all)",
        description=(
            "Judge every answer file (or --model-list) with FastChat's MT-bench judge prompts, sent to any "
            "OpenAI-compatible endpoint, or judged in-process by a local model (--judge-model-path). Judgments are appended to "
            "data/BENCH/model_judgment/JUDGE_single.jsonl or JUDGE_pair.jsonl as they finish; a rerun skips "
            "matches already judged with the same prompt, so an interrupted run resumes where it stopped. "
            "The plan (matches, calls, estimated tokens and cost) is printed before any call."
        ),
    )
    add_judge_args(parser)
    parser.set_defaults(run=run)


def add_judge_args(parser) -> None:
    """judge's flags (``mtbench run`` registers them too, see ``cli.flag_scope``)."""
    add_layout_args(parser)
    parser.add_argument("--mode", choices=MODES, default="single",
                        help="single: a 1-10 score per answer; pairwise-baseline: each model against "
                        "--baseline-model; pairwise-all: every pair of models (default: single)")
    parser.add_argument("--judge-file", type=Path, default=None,
                        help="judge prompts (default: DATA_DIR/judge_prompts.jsonl)")
    parser.add_argument("--judge-model", default=None,
                        help="judge model name sent to the endpoint; names the output file and the records' judge "
                        "(default: gpt-4; a local judge: its model folder's name, or its GGUF file's)")
    parser.add_argument("--baseline-model", default=DEFAULT_BASELINE_MODEL,
                        help="baseline for --mode pairwise-baseline (default: gpt-3.5-turbo)")
    parser.add_argument("--model-list", nargs="+", metavar="MODEL",
                        help="models to judge, by answer-file stem (default: every answer file)")
    parser.add_argument("--first-n", type=int, metavar="N", help="judge only the first N questions")
    add_per_category_arg(parser)
    parser.add_argument("--reference", default=DEFAULT_REFERENCE, metavar="NAME",
                        help="reference answers for math/reasoning/coding: BENCH/reference_answer/NAME.jsonl "
                        "(default: gpt-4; the corrected set is gpt-4-0125-preview)")
    add_endpoint_args(parser, url_flags=("--judge-base-url",), key_flag="--judge-api-key-env",
                      parallel_default=8, parallel_help="concurrent judge requests (default: 8)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="judge temperature (default: 0; left out where the judge refuses it)")
    parser.add_argument("--max-tokens", type=int, default=2048,
                        help="judge max_tokens (default: 2048); a reasoning judge (o-series, gpt-5, R1, Qwen3) "
                        "spends it on its thinking too, so give it a larger one (e.g. 16384) or its replies are "
                        "cut before the verdict; sent as max_completion_tokens where the judge refuses max_tokens")
    parser.add_argument("--judge-extra-body", metavar="JSON",
                        help="a JSON object of request fields added to every judge call, e.g. "
                        "'{\"reasoning_effort\": \"high\"}' or a thinking budget your endpoint takes")
    parser.add_argument("--judge-samples", type=int, default=1, metavar="N",
                        help="judge every match N times (records carry sample 0..N-1; `mtbench show` takes the "
                        "median and reports the judge's noise); the plan and cost multiply by N (default: 1)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="judge again the matches whose earlier judgment failed (API error or no verdict)")
    add_budget_args(parser)
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch", dest="batch", action="store_const", const=True, default=None,
                       help="judge through the provider's Batch API (OpenAI-compatible: /v1/files, /v1/batches) "
                       "at its price, half of live for OpenAI; kill-safe: a rerun resumes the batches in flight")
    batch.add_argument("--no-batch", dest="batch", action="store_const", const=False,
                       help="judge live even where batches are in flight (by default a rerun resumes them)")
    parser.add_argument("--batch-poll-interval", type=float, default=30.0, metavar="SECONDS",
                        help="seconds between polls of a batch's status (default: 30)")
    parser.add_argument("--batch-size", type=int, default=50_000, metavar="N",
                        help="requests per batch at most (default: 50000, OpenAI's limit; files stay under 200 MB)")
    parser.add_argument("--batch-price-input", type=float, metavar="USD",
                        help="batch price per 1M input tokens (overrides the table's batch column)")
    parser.add_argument("--batch-price-output", type=float, metavar="USD",
                        help="batch price per 1M output tokens (overrides the table's batch column)")
    add_local_judge_args(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_local_judge_args(parser: argparse.ArgumentParser) -> None:
    """The flags of a local judge (judge, run): a model judged in-process on gen-answer's engines."""
    group = parser.add_argument_group(
        "local judge", "judge in this process with a local model (no endpoint, no key, no cost); --parallel is "
        "the prompts per batch, --max-tokens the new tokens per reply, temperature 0 decodes greedily")
    group.add_argument("--judge-model-path", metavar="PATH",
                       help="a local model folder (or a hub id in the local cache) to judge with")
    group.add_argument("--judge-gguf-file", metavar="FILE", help="GGUF file name inside --judge-model-path")
    # No argparse choices: LocalJudge checks them (importing gen-answer's here would slow every command's start).
    group.add_argument("--judge-engine", default="hf", help="hf (transformers) or vllm (default: hf)")
    group.add_argument("--judge-dtype", help="float32, float16 or bfloat16 (default: float16 on CUDA, float32 on CPU)")
    group.add_argument("--judge-device", default="auto", help="auto, cuda or cpu; auto: CUDA when available, else CPU")
    group.add_argument("--judge-chat-template", metavar="NAME|FILE",
                       help="vicuna_v1.1, llama-2, alpaca, chatml, zero_shot, or a Jinja file (default: the "
                       "tokenizer's chat template); it renders FastChat's system and user messages")
    group.add_argument("--force-verdict", action="store_true",
                       help="a reply with no verdict is continued with '\n\nRating: [[' (pairwise '\n\nVerdict: "
                       "[[') and the judge's most probable 1..10 (A/B/C) is read; recorded with verdict_forced: true "
                       "and counted by `mtbench show` (default: off; a local judge only)")


def local_judge_from(args: argparse.Namespace):
    """The ``LocalJudge`` of ``add_local_judge_args``'s flags, or None without --judge-model-path."""
    from mtbench.core.errors import UserError
    from mtbench.gen_judgment.local import LocalJudge

    if args.judge_model_path is None:
        given = [flag for flag, value in (("--judge-gguf-file", args.judge_gguf_file),
                                          ("--judge-dtype", args.judge_dtype),
                                          ("--judge-chat-template", args.judge_chat_template)) if value is not None]
        if given:
            raise UserError(f"{given[0]} needs --judge-model-path (a local judge)")
        return None
    return LocalJudge(path=args.judge_model_path, gguf_file=args.judge_gguf_file, engine=args.judge_engine,
                      dtype=args.judge_dtype, device=args.judge_device, chat_template=args.judge_chat_template)


def judge_config_from(args: argparse.Namespace):
    """The ``JudgeConfig`` of `mtbench judge`'s flags (a command that registers the same flags, e.g. `run`,
    builds its judging step with it); the config checks itself (one-line UserError)."""
    from mtbench.core.request_params import extra_body_from_json
    from mtbench.gen_judgment import JudgeConfig

    local = local_judge_from(args)
    return JudgeConfig(
        layout=layout_from(args),
        mode=args.mode,
        judge_file=args.judge_file,
        judge_model=args.judge_model or (local.name if local is not None else DEFAULT_JUDGE_MODEL),
        baseline_model=args.baseline_model,
        model_list=tuple(args.model_list) if args.model_list else None,
        first_n=args.first_n,
        per_category=args.per_category,
        reference=args.reference,
        parallel=args.parallel,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        extra_body=extra_body_from_json(args.judge_extra_body, "--judge-extra-body"),
        endpoint=endpoint_from(args),
        retry_failed=args.retry_failed,
        price_input=args.price_input,
        price_output=args.price_output,
        max_cost=args.max_cost,
        progress=not args.no_progress,
        judge_samples=args.judge_samples,
        batch=args.batch,
        batch_poll_interval=args.batch_poll_interval,
        batch_max_requests=args.batch_size,
        batch_price_input=args.batch_price_input,
        batch_price_output=args.batch_price_output,
        local=local,
        force_verdict=args.force_verdict,
    )


def run(args: argparse.Namespace) -> int:
    from mtbench.gen_judgment import judge

    config = judge_config_from(args)
    summary = judge(config, dry_run=args.dry_run, announce=lambda text: print(text, flush=True))
    if summary is not None:
        print(summary.describe(), flush=True)
    return 0
