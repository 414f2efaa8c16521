"""Benchmark `mtbench browse` and `mtbench report` on the leaderboard-size data: FastChat's 31 official
answer files (from ../shared) and generated single judgments for all of them (31 x 160 lines, judge prompts
and explanations of real sizes, ~1% failed).

Measured (median of --repeats):
- load:       reading and joining every file into the view (``load_bench_view``); baseline: FastChat
              qa_browser's loading (json.loads of every line into dicts, no checks), same files.
- api/single: one question+answer+judgments request over real HTTP to a running server (median of
              --requests); baseline: the same server returning its 2 KB CSS file (the server's floor).
- leaderboard: first /api/leaderboard (show's tables, 1000-resample bootstrap); baseline: ``show()`` alone.
- report:     ``build_report`` (leaderboard + radar PNG + 80-question drill-down for 31 models);
              baseline: ``show()`` alone (the statistics the report is built around).

Usage: .venv/bin/python scripts/bench_browse.py [--repeats 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout

from benchlib import median_time  # noqa: E402  (scripts/ is on sys.path when a script runs)

from mtbench.core.bench import BenchLayout  # noqa: E402
from mtbench.report import ReportConfig, build_report  # noqa: E402
from mtbench.show_result import ShowConfig, show  # noqa: E402
from mtbench.webview.bench_view import load_bench_view  # noqa: E402

SHARED = Path(os.environ.get("MTBENCH_SHARED", REPO.parent / "shared"))
PROMPT = "[Question]\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 55  # ~3 KB
JUDGMENT = "The assistant's answer is helpful and mostly accurate. " * 18  # ~1 KB


def make_data(root: Path) -> Path:
    d = root / "data"
    bench = d / "mt_bench"
    for sub in ("model_answer", "model_judgment", "reference_answer"):
        (bench / sub).mkdir(parents=True)
    shutil.copy(SHARED / "mt_bench" / "question.jsonl", bench / "question.jsonl")
    for f in (SHARED / "mt_bench" / "reference_answer").glob("*.jsonl"):
        shutil.copy(f, bench / "reference_answer" / f.name)
    models = []
    for f in sorted((SHARED / "mt_bench_reference" / "model_answer").glob("*.jsonl")):
        shutil.copy(f, bench / "model_answer" / f.name)
        models.append(f.stem)
    rng = random.Random(0)
    with open(bench / "model_judgment" / "gpt-4_single.jsonl", "w") as out:
        for m in models:
            for q in range(81, 161):
                for turn in (1, 2):
                    score = rng.randint(1, 10) if rng.random() > 0.01 else -1
                    out.write(
                        json.dumps(
                            {
                                "question_id": q,
                                "model": m,
                                "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                                "user_prompt": PROMPT,
                                "judgment": JUDGMENT + f"Rating: [[{score}]]",
                                "score": score,
                                "turn": turn,
                                "tstamp": 1.7e9,
                            }
                        )
                        + "\n"
                    )
    return d


def fastchat_load(bench: Path) -> None:
    """qa_browser's loading: every line json-parsed into dicts keyed as it keys them."""
    questions = [json.loads(x) for x in open(bench / "question.jsonl") if x.strip()]
    answers = {}
    for f in sorted((bench / "model_answer").glob("*.jsonl")):
        answers[f.stem] = {r["question_id"]: r for r in (json.loads(x) for x in open(f) if x.strip())}
    judgments = {}
    for x in open(bench / "model_judgment" / "gpt-4_single.jsonl"):
        r = json.loads(x)
        judgments[(r["question_id"], r["model"], tuple(r["judge"]))] = r
    assert questions and answers and judgments


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mtbench-bench-browse-"))
    try:
        data = make_data(root)
        layout = BenchLayout(data)
        bench = layout.bench_dir
        judgments = bench / "model_judgment" / "gpt-4_single.jsonl"
        show_config = ShowConfig(judgment_file=judgments, question_file=layout.question_file)
        rows = []

        load = median_time(lambda: load_bench_view(layout), args.repeats)
        base = median_time(lambda: fastchat_load(bench), args.repeats)
        rows.append(("load (31 models, 4,960 judgments)", load, base, "FastChat-style json.loads"))

        show_time = median_time(lambda: show(show_config), args.repeats)
        report_time = median_time(
            lambda: build_report(ReportConfig(layout=layout, out=root / "r.html")), args.repeats
        )
        size = len(build_report(ReportConfig(layout=layout, out=root / "r.html")).encode())
        rows.append((f"report build ({size / 1e6:.1f} MB HTML)", report_time, show_time, "show() alone"))

        proc = subprocess.Popen(
            [sys.executable, "-m", "mtbench", "browse", "--data-dir", str(data), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        try:
            url = proc.stdout.readline().split(" at ", 1)[1].split(" ", 1)[0].rstrip("/")  # type: ignore[union-attr]
            models = [f.stem for f in sorted((bench / "model_answer").glob("*.jsonl"))]
            rng = random.Random(1)
            t = time.perf_counter()
            fetch(f"{url}/api/leaderboard?judge=gpt-4&mode=single")
            first_board = time.perf_counter() - t
            rows.append(("leaderboard, first request", first_board, show_time, "show() alone"))

            def latencies(make_url) -> float:
                out = []
                for _ in range(args.requests):
                    u = make_url()
                    t0 = time.perf_counter()
                    fetch(u)
                    out.append(time.perf_counter() - t0)
                return statistics.median(out)

            single = latencies(
                lambda: f"{url}/api/single?id={rng.randint(81, 160)}&model={rng.choice(models)}&judge=gpt-4"
            )
            floor = latencies(lambda: f"{url}/static/app.css")
            rows.append(("api/single request (warm)", single, floor, "static CSS file"))
        finally:
            proc.terminate()
            proc.wait()

        print(f"{'measured':<38} {'time':>10} {'baseline':>10} {'ratio':>7}  baseline is")
        for name, measured, baseline, what in rows:
            print(
                f"{name:<38} {measured * 1e3:>8.1f}ms {baseline * 1e3:>8.1f}ms {measured / baseline:>7.2f}  {what}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
