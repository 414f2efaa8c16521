"""Benchmark `mtbench show` on generated judgment files of leaderboard size.

Files: 50 models x 160 single judgments (8,000 lines), and a pairwise-all run of 10 models (45 pairs x 160 =
7,200 lines, one model being the gpt-3.5-turbo baseline). Judge prompts and judgments are filled to the sizes
of real FastChat files (~3 KB prompt, ~1 KB judgment), so JSON parsing costs what it costs in practice.

Measured, per mode (median of --repeats runs):
- cli:      `python -m mtbench show` as a subprocess (start-up, imports, load, 1000-resample bootstrap, print):
            wall time, and its CPU time (user + system), which other jobs on a shared machine disturb less
- library:  `show(config)` + `render` in this process (load + compute + format)
- start-up: interpreter + building the CLI parser + importing show_result (pandas): the fixed part of `cli`
- compute:  the table function alone on records already loaded (dedupe, means, bootstrap)
- baseline: FastChat show_result's arithmetic (pandas read_json + groupby / row loop, no CIs, no
            dedupe) in this process, for scale: ratio = library / baseline.

Usage: .venv/bin/python scripts/bench_show.py [--repeats 5] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, not whatever mtbench is installed

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from benchlib import median_time  # noqa: E402  (scripts/ is on sys.path when a script runs)

from mtbench.core.record_files import load_pair_judgments, load_single_judgments  # noqa: E402
from mtbench.show_result import ShowConfig, pairwise_table, render, show, single_tables  # noqa: E402

QIDS = range(81, 161)
PROMPT = "[Question]\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 55  # ~3 KB
JUDGMENT = "The assistant's answer is helpful and mostly accurate. " * 18  # ~1 KB


def write_single(path: Path, n_models: int = 50) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for m in range(n_models):
            for q in QIDS:
                for turn in (1, 2):
                    score = int(rng.integers(1, 11)) if rng.random() > 0.01 else -1
                    f.write(json.dumps({
                        "question_id": q, "model": f"model-{m:02d}", "judge": ["gpt-4", f"single-v1-t{turn}"],
                        "user_prompt": PROMPT, "judgment": JUDGMENT + f"Rating: [[{score}]]", "score": score,
                        "turn": turn, "tstamp": 1.7e9,
                    }) + "\n")


def write_pairs(path: Path, n_models: int = 10) -> None:
    rng = np.random.default_rng(1)
    models = ["gpt-3.5-turbo"] + [f"model-{m:02d}" for m in range(n_models - 1)]
    choices = np.array(["model_1", "model_2", "tie", "error"])
    with open(path, "w") as f:
        for i in range(n_models):
            for j in range(i + 1, n_models):
                for q in QIDS:
                    for turn in (1, 2):
                        g1, g2 = choices[rng.choice(4, size=2, p=[0.4, 0.4, 0.19, 0.01])]
                        f.write(json.dumps({
                            "question_id": q, "model_1": models[i], "model_2": models[j], "g1_winner": str(g1),
                            "g2_winner": str(g2), "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": PROMPT,
                            "g1_judgment": JUDGMENT + "[[A]]", "g2_user_prompt": PROMPT,
                            "g2_judgment": JUDGMENT + "[[B]]", "turn": turn, "tstamp": 1.7e9,
                        }) + "\n")


def fastchat_single(path: Path) -> pd.DataFrame:
    """FastChat show_result's single mode: drop -1, per-turn means, pooled mean (no CIs, no dedupe)."""
    df = pd.read_json(path, lines=True)[["model", "score", "turn"]]
    df = df[df["score"] != -1]
    t1 = df[df["turn"] == 1].groupby("model")["score"].mean()
    t2 = df[df["turn"] == 2].groupby("model")["score"].mean()
    return pd.DataFrame({"t1": t1, "t2": t2, "avg": df.groupby("model")["score"].mean()})


def fastchat_pairwise(path: Path, baseline: str | None) -> pd.DataFrame:
    """FastChat show_result's pairwise modes: a Python loop over the rows, then rates per model."""
    df = pd.read_json(path, lines=True)
    df = df[(df["g1_winner"] != "error") & (df["g2_winner"] != "error")]
    counts: dict[str, list[int]] = {}
    for _, row in df.iterrows():
        if baseline and baseline not in (row["model_1"], row["model_2"]):
            continue
        m1, m2 = row["model_1"], row["model_2"]
        for m in (m1, m2):
            counts.setdefault(m, [0, 0, 0])
        if row["g1_winner"] == "tie" or row["g1_winner"] != row["g2_winner"]:
            counts[m1][2] += 1
            counts[m2][2] += 1
        else:
            w, l_ = (m1, m2) if row["g1_winner"] == "model_1" else (m2, m1)
            counts[w][0] += 1
            counts[l_][1] += 1
    out = pd.DataFrame(counts, index=["win", "loss", "tie"]).T
    if baseline:
        out = out.drop(index=baseline)
    total = out.sum(axis=1)
    out["win_rate_adjusted"] = (out["win"] + 0.5 * out["tie"]) / total
    return out.sort_values("win_rate_adjusted", ascending=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        judgments = Path(tmp) / "mt_bench" / "model_judgment"
        judgments.mkdir(parents=True)
        single_file, pair_file = judgments / "gpt-4_single.jsonl", judgments / "gpt-4_pair.jsonl"
        write_single(single_file)
        write_pairs(pair_file)
        print(
            f"files: {single_file.name} {single_file.stat().st_size / 1e6:.1f} MB (50 models x 160), "
            f"{pair_file.name} {pair_file.stat().st_size / 1e6:.1f} MB (45 pairs x 160); "
            f"bootstrap {args.bootstrap}, median of {args.repeats}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}",
        )
        singles = load_single_judgments(single_file)
        pairs = load_pair_judgments(pair_file)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        # The fixed cost every `mtbench show` pays before reading anything: interpreter, CLI, pandas.
        startup_s = median_time(
            lambda: subprocess.run(
                [sys.executable, "-c", "import mtbench.cli as c, mtbench.show_result; c.build_parser()"],
                check=True, capture_output=True, env=env,
            ),
            args.repeats,
        )
        rows = []
        for mode, baseline_fn, compute_fn in (
            ("single", lambda: fastchat_single(single_file),
             lambda: single_tables(singles, n_bootstrap=args.bootstrap)),
            ("pairwise-baseline", lambda: fastchat_pairwise(pair_file, "gpt-3.5-turbo"),
             lambda: pairwise_table(pairs, baseline="gpt-3.5-turbo", n_bootstrap=args.bootstrap)),
            ("pairwise-all", lambda: fastchat_pairwise(pair_file, None),
             lambda: pairwise_table(pairs, n_bootstrap=args.bootstrap)),
        ):
            config = ShowConfig(
                judgment_file=single_file if mode == "single" else pair_file, mode=mode,
                question_file=Path(tmp) / "mt_bench" / "question.jsonl", n_bootstrap=args.bootstrap,
            )
            cmd = [sys.executable, "-m", "mtbench", "show", "--data-dir", tmp, "--mode", mode,
                   "--bootstrap", str(args.bootstrap)]

            cpu_times = []

            def cli(cmd=cmd, cpu_times=cpu_times):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(cmd, check=True, capture_output=True, env=env)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

            cli_s = median_time(cli, args.repeats)
            cli_cpu_s = statistics.median(cpu_times)
            library_s = median_time(lambda config=config: render(show(config)), args.repeats)
            compute_s = median_time(compute_fn, args.repeats)
            baseline_s = median_time(baseline_fn, args.repeats)
            rows.append((mode, cli_s, cli_cpu_s, library_s, compute_s, baseline_s))

    print(f"start-up (python + mtbench CLI parser + show_result imports, no work): {startup_s:.2f} s")
    header = ("mode", "cli wall (s)", "cli cpu (s)", "library (s)", "compute (s)", "FastChat arithmetic (s)", "library / FastChat")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    for mode, cli_s, cli_cpu_s, library_s, compute_s, baseline_s in rows:
        print(f"| {mode} | {cli_s:.2f} | {cli_cpu_s:.2f} | {library_s:.2f} | {compute_s:.3f} | {baseline_s:.2f} | {library_s / baseline_s:.2f} |")


if __name__ == "__main__":
    main()
