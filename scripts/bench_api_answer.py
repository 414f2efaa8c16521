"""Throughput of `mtbench gen-api-answer`: conversations per second against a loopback server with a fixed
latency, at --parallel 1, 16 and 64.

Baselines, measured in the same run: the bare shared client (same pooled transport) doing the same two
sequential calls per conversation through run_bounded (no files, no preflight, no first question run
alone), and the ideal parallel / (2 x latency).
The scripted server runs in a process of its own, so its work does not share our event loop.

    .venv/bin/python scripts/bench_api_answer.py [--latency 0.2] [--repeats 3] [--parallel 1 16 64]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mtbench.core.bench import BenchLayout  # noqa: E402
from mtbench.core.client import ChatClient, EndpointConfig, RetryPolicy  # noqa: E402
from mtbench.core.runner import run_bounded  # noqa: E402
from mtbench.gen_api_answer import ApiAnswerConfig, build_messages, generate_api_answers  # noqa: E402

REPLY = "A reply of a few dozen words, about as long as a short MT-bench answer. " * 4


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "openai_server.py"), "--latency", str(latency), "--reply", REPLY],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def write_questions(data_dir: Path, count: int) -> None:
    path = data_dir / "mt_bench" / "question.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps({"question_id": 1000 + i, "category": "writing",
                                "turns": [f"Question {i}, turn one?", f"Question {i}, turn two?"]}) + "\n")


def run_mtbench(base_url: str, parallel: int, count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        write_questions(data_dir, count)
        config = ApiAnswerConfig(
            layout=BenchLayout(data_dir=data_dir), model="bench", model_id="bench",
            endpoint=EndpointConfig(base_url=base_url, retry=RetryPolicy(max_retries=0)),
            parallel=parallel, max_tokens=64, progress=False,
        )
        started = time.perf_counter()
        summary = generate_api_answers(config)
        elapsed = time.perf_counter() - started
        assert summary.answered == count and not summary.failed, summary
    return count / elapsed


def run_bare_client(base_url: str, parallel: int, count: int) -> float:
    async def go() -> None:
        config = EndpointConfig(base_url=base_url, retry=RetryPolicy(max_retries=0))
        async with ChatClient(config, max_connections=parallel) as client:  # the transport mtbench uses
            async def conversation(i: int) -> None:
                turns = [f"Question {i}, turn one?", f"Question {i}, turn two?"]
                answers: list[str] = []
                for n in (1, 2):
                    result = await client.chat("bench", build_messages(None, turns[:n], answers),
                                               temperature=0.7, max_tokens=64)
                    assert result.ok, result.error
                    answers.append(result.text)

            async for _ in run_bounded(range(count), conversation, parallel=parallel):
                pass

    started = time.perf_counter()
    asyncio.run(go())
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per request, seconds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--waves", type=int, default=8,
                        help="conversations per run = waves x parallel (at least 16)")
    args = parser.parse_args()

    proc, base_url = start_server(args.latency)
    try:
        rows = []
        for parallel in args.parallel:
            count = max(16, args.waves * parallel)
            ours = statistics.median(run_mtbench(base_url, parallel, count) for _ in range(args.repeats))
            bare = statistics.median(run_bare_client(base_url, parallel, count) for _ in range(args.repeats))
            ideal = parallel / (2 * args.latency)
            rows.append((parallel, count, ours, bare, ideal))
    finally:
        proc.terminate()
        proc.wait(10)

    print(f"\ngen-api-answer throughput, loopback server with {args.latency:g}s latency per request, "
          f"median of {args.repeats}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    header = ("parallel", "convs", "mtbench conv/s", "bare client conv/s", "ideal conv/s", "mtbench/ideal",
              "mtbench/bare")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for parallel, count, ours, bare, ideal in rows:
        print(f"| {parallel} | {count} | {ours:.2f} | {bare:.2f} | {ideal:.2f} | {ours / ideal:.2f} | {ours / bare:.2f} |")


if __name__ == "__main__":
    main()
