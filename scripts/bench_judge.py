"""Benchmark: judgments per second and CPU per judgment of `mtbench judge` against a 200 ms endpoint.

The loopback OpenAI-compatible server runs in its own process (tests/openai_server.py) and answers every
request after --latency seconds, so the ideal rate is parallel / latency. Each measurement runs in a
fresh worker process over a fresh output file (nothing to resume), and measures only the judging (not
the imports): wall time and the worker's CPU seconds (resource.getrusage). The baseline is FastChat's
design, measured in the same run on the same matches: a thread pool of the same size, one blocking call
per thread with the sync openai client, each record appended to the file as it finishes.

    .venv/bin/python scripts/bench_judge.py            # table to stdout
    .venv/bin/python scripts/bench_judge.py --rate-limited   # the rate-limited scenario's table

The rate-limited scenario: the server allows --rpm requests and --tpm tokens per --window seconds
(token buckets, starting full, answering 429 with OpenAI's x-ratelimit-* headers and Retry-After), and
both sides run at --parallel 256. The baseline is FastChat's chat_completion_openai: a thread pool
whose threads sleep a fixed 10 s (scaled by window/60) after any error and try again. "allowed" is
what a perfect client could do in the run's wall time: a full bucket plus its refill.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MTBENCH_SHARED", REPO.parent / "shared"))
OFFICIAL = SHARED / "mt_bench_reference" / "model_answer"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def python_path() -> str:
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)


def make_data_dir(root: Path, models: int) -> tuple[Path, list[str]]:
    data = root / "data"
    (data / "mt_bench" / "model_answer").mkdir(parents=True)
    shutil.copy(SHARED / "mt_bench" / "judge_prompts.jsonl", data / "judge_prompts.jsonl")
    shutil.copy(SHARED / "mt_bench" / "question.jsonl", data / "mt_bench" / "question.jsonl")
    shutil.copytree(SHARED / "mt_bench" / "reference_answer", data / "mt_bench" / "reference_answer")
    names = sorted(p.stem for p in OFFICIAL.glob("*.jsonl"))[:models]
    for name in names:
        shutil.copy(OFFICIAL / f"{name}.jsonl", data / "mt_bench" / "model_answer" / f"{name}.jsonl")
    return data, names


# ---------------------------------------------------------------------------------------------------
# worker: one measurement, in a process of its own


def worker(args: argparse.Namespace) -> None:
    from mtbench.core.bench import BenchLayout
    from mtbench.core.client import EndpointConfig, RetryPolicy
    from mtbench.gen_judgment import JudgeConfig, judge_messages, parse_rating, plan_judging, run_judging

    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    config = JudgeConfig(
        layout=BenchLayout(Path(args.data_dir), "mt_bench"),
        model_list=tuple(args.models.split(",")),
        first_n=args.first_n,
        parallel=args.parallel,
        endpoint=EndpointConfig(base_url=args.base_url, timeout=60, retry=RetryPolicy(max_retries=args.max_retries)),
        progress=False,
    )
    plan = plan_judging(config)
    todo = plan.resume.todo[: args.limit]
    plan = dataclasses.replace(plan, resume=dataclasses.replace(plan.resume, todo=tuple(todo)))
    n = len(todo)

    if args.impl == "mtbench":
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        summary = run_judging(plan)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        ok = summary.written - sum(summary.failures.values())
    else:
        from concurrent.futures import ThreadPoolExecutor

        import openai

        client = openai.OpenAI(base_url=args.base_url, api_key="sk-bench", max_retries=0, timeout=60)
        plan.output.parent.mkdir(parents=True, exist_ok=True)
        out = open(plan.output, "a")

        def one(match):
            for _ in range(16):  # FastChat's API_MAX_RETRY, sleeping API_RETRY_SLEEP after any error
                try:
                    response = client.chat.completions.create(
                        model="gpt-4", messages=judge_messages(match.prompt, match.user_prompt),
                        temperature=0, max_tokens=2048, n=1,
                    )
                    break
                except openai.OpenAIError:
                    if not args.retry_sleep:
                        raise
                    time.sleep(args.retry_sleep)
            else:
                return False  # FastChat writes "$ERROR$" here; not a judgment
            text = response.choices[0].message.content
            record = {"question_id": match.question_id, "model": match.model, "judge": ["gpt-4", match.prompt.name],
                      "user_prompt": match.user_prompt, "judgment": text, "score": parse_rating(text),
                      "turn": match.turn, "tstamp": time.time()}
            out.write(json.dumps(record) + "\n")
            out.flush()
            return record["score"] is not None

        cpu0, t0 = cpu_seconds(), time.perf_counter()
        with ThreadPoolExecutor(args.parallel) as pool:
            ok = sum(pool.map(one, todo))
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        out.close()
    print(json.dumps({"n": n, "ok": ok, "wall_s": wall, "cpu_s": cpu}))


# ---------------------------------------------------------------------------------------------------
# driver


def process_cpu_seconds(pid: int) -> float:
    """user+sys CPU of another process (Linux /proc), to see whether the loopback server is the limit."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(impl: str, data_dir: Path, models: list[str], base_url: str, parallel: int, limit: int,
            server_pid: int, extra: tuple[str, ...] = (), require_all: bool = True) -> dict:
    out_dir = data_dir / "mt_bench" / "model_judgment"
    shutil.rmtree(out_dir, ignore_errors=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": python_path()}
    server_cpu = process_cpu_seconds(server_pid)
    result = subprocess.run(
        [sys.executable, __file__, "--worker", "--impl", impl, "--data-dir", str(data_dir), "--models",
         ",".join(models), "--base-url", base_url, "--parallel", str(parallel), "--limit", str(limit), *extra],
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"worker failed:\n{result.stderr}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["server_busy"] = (process_cpu_seconds(server_pid) - server_cpu) / row["wall_s"]
    if require_all and row["ok"] != row["n"]:
        raise SystemExit(f"{impl} p={parallel}: only {row['ok']} of {row['n']} judgments succeeded")
    return row


def start_server(*flags: str) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "openai_server.py"), *flags],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": python_path()},
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def server_stats(base_url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/_stats", timeout=10) as response:
        return json.load(response)


def rate_limited(args: argparse.Namespace) -> None:
    """Both clients against a fresh rate-limited server each (a drained bucket would favour the first)."""
    sleep = 10.0 * args.window / 60  # FastChat's API_RETRY_SLEEP, scaled like the window
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench_judge_rl_") as tmp:
        data_dir, models = make_data_dir(Path(tmp), 31)
        for impl in ("mtbench", "threads"):
            server, base_url = start_server("--latency", str(args.latency), "--rpm", str(args.rpm),
                                            "--tpm", str(args.tpm), "--window", str(args.window))
            try:
                row = measure(impl, data_dir, models, base_url, 256, args.judgments, server.pid,
                              extra=("--max-retries", "16", "--retry-sleep", str(sleep)), require_all=False)
                stats = server_stats(base_url)
            finally:
                server.terminate()
                server.wait()
            per_request = stats["tokens_charged"] / stats["admitted"]
            per_window = min(args.rpm, args.tpm / per_request)
            row["allowed_rate"] = per_window / args.window
            row["allowed_n"] = per_window * (1 + row["wall_s"] / args.window)
            row["share_429"] = stats["limited"] / stats["chat_requests"]
            rows[impl] = row
            print(f"{impl}: {row['ok']} of {row['n']} in {row['wall_s']:.1f}s, {stats['limited']} x 429 of "
                  f"{stats['chat_requests']} requests", file=sys.stderr, flush=True)
    print(f"\nmtbench judge vs FastChat's thread pool at --parallel 256, {args.judgments} judgments, against a "
          f"{args.latency * 1000:.0f} ms loopback endpoint allowing {args.rpm:g} requests and {args.tpm:g} tokens "
          f"per {args.window:g} s (a minute scaled by {60 / args.window:g}; thread pool sleeps {sleep:.2f} s "
          "after an error, FastChat's 10 s scaled alike)")
    header = ("client", "judged", "judgments/s", "allowed/s", "% of allowed (burst + refill)", "requests answered 429")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for impl, row in rows.items():
        rate = row["ok"] / row["wall_s"]
        print(f"| {impl} | {row['ok']}/{row['n']} | {rate:.1f} | {row['allowed_rate']:.1f} | "
              f"{100 * row['ok'] / row['allowed_n']:.0f}% | "
              f"{100 * row['share_429']:.1f}% |")
    m, t = rows["mtbench"], rows["threads"]
    print(f"\nspeed ratio mtbench / thread pool: {(m['ok'] / m['wall_s']) / (t['ok'] / t['wall_s']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--parallel", default="1,16,64,256", help="comma-separated parallelism levels")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate-limited", action="store_true", help="run the rate-limited scenario instead")
    parser.add_argument("--rpm", type=float, default=200, help="rate-limited: requests per --window")
    parser.add_argument("--tpm", type=float, default=200 * 2600, help="rate-limited: tokens per --window")
    parser.add_argument("--window", type=float, default=2.0, help="rate-limited: the minute, scaled (seconds)")
    parser.add_argument("--judgments", type=int, default=1800, help="rate-limited: judgments per client")
    parser.add_argument("--max-retries", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--retry-sleep", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="mtbench", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--models", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--first-n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.parallel = int(args.parallel)
        worker(args)
        return
    if args.rate_limited:
        rate_limited(args)
        return

    server, base_url = start_server("--latency", str(args.latency))
    try:
        with tempfile.TemporaryDirectory(prefix="bench_judge_") as tmp:
            data_dir, models = make_data_dir(Path(tmp), 31)
            rows = []
            for p in (int(x) for x in args.parallel.split(",")):
                # Enough judgments for ~4 latency-bound seconds at the ideal rate (50 at p=1), and >= 1,000 from p=64.
                limit = 50 if p == 1 else min(len(models) * 160, max(1000 if p >= 64 else 0, int(4 * p / args.latency)))
                ideal = p / args.latency
                measured = {}
                for impl in ("mtbench", "threads"):
                    runs = [measure(impl, data_dir, models, base_url, p, limit, server.pid)
                            for _ in range(args.repeats)]
                    rate = statistics.median(r["n"] / r["wall_s"] for r in runs)
                    cpu_ms = statistics.median(1000 * r["cpu_s"] / r["n"] for r in runs)
                    busy = statistics.median(r["server_busy"] for r in runs)
                    measured[impl] = (rate, cpu_ms, busy)
                rows.append((p, limit, ideal, measured))
                m, t = measured["mtbench"], measured["threads"]  # (rate, CPU ms, server busy)
                print(f"p={p}: n={limit} mtbench {m[0]:.1f}/s {m[1]:.2f} ms CPU; threads {t[0]:.1f}/s {t[1]:.2f} ms CPU",
                      file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()

    print(f"\nmtbench judge vs a {args.latency * 1000:.0f} ms loopback endpoint "
          f"(median of {args.repeats}; CPU ms/j = judging process, user+sys; "
          "server CPU = the loopback server process's share of one core during mtbench's run)")
    header = ("parallel", "judgments", "ideal/s", "mtbench/s", "% ideal", "CPU ms/j", "server CPU",
              "threads/s", "% ideal", "CPU ms/j", "speed ratio")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for p, n, ideal, measured in rows:
        (rate, cpu, busy), (trate, tcpu, _) = measured["mtbench"], measured["threads"]
        print(f"| {p} | {n} | {ideal:.0f} | {rate:.1f} | {100 * rate / ideal:.0f}% | {cpu:.2f} | {100 * busy:.0f}% | "
              f"{trate:.1f} | {100 * trate / ideal:.0f}% | {tcpu:.2f} | {rate / trate:.2f}x |")


if __name__ == "__main__":
    main()
