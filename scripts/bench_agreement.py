"""Benchmark `mtbench agreement` on generated vote files of the sizes people use.

Cases:
- human: a vote set at the size of lmsys/mt_bench_human_judgments (3,355 human votes incl. authors, 2,400
  GPT-4 pair votes; 6 models, 80 questions, 2 turns; conversations ~4 KB per vote, as in the HF export),
  GPT-4 vs human and human vs human.
- judges: two JUDGE_pair.jsonl files of a pairwise-all run of 10 models (45 pairs x 160 = 7,200 matches
  each, ~8 KB per line like real FastChat files), judge vs judge.

Measured (median of --repeats):
- cli:      `python -m mtbench agreement` as a subprocess (start-up, load, compute, print)
- library:  `agreement(config)` + `render` in this process
- baseline: human: FastChat compute_agreement's algorithm (json.load the vote arrays, bucket per turn and key,
            compare; written here from its description) in this process; judges: reading both files with
            the record layer and nothing else (the floor any tool pays). ratio = library / baseline.

Usage: .venv/bin/python scripts/bench_agreement.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, not whatever mtbench is installed

from benchlib import median_time  # noqa: E402  (scripts/ is on sys.path when a script runs)

from mtbench.agreement import AgreementConfig, agreement, render  # noqa: E402
from mtbench.core.record_files import load_pair_judgments  # noqa: E402

PAPER_MODELS = ["gpt-4", "gpt-3.5-turbo", "claude-v1", "vicuna-13b-v1.2", "alpaca-13b", "llama-13b"]
CONVERSATION = [{"role": "user", "content": "Lorem ipsum dolor sit amet. " * 35},
                {"role": "assistant", "content": "Consectetur adipiscing elit. " * 35}] * 2  # ~4 KB
PROMPT = "[Question]\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 55  # ~3 KB
JUDGMENT = "The assistant's answer is helpful and mostly accurate. " * 18  # ~1 KB
WINNERS = ["model_a", "model_b", "tie"]


def write_votes(folder: Path) -> tuple[Path, Path]:
    rng = random.Random(0)
    pairs = [(a, b) for i, a in enumerate(PAPER_MODELS) for b in PAPER_MODELS[i + 1:]]
    keys = [(q, a, b, t) for q in range(81, 161) for a, b in pairs for t in (1, 2)]
    gpt4 = [dict(question_id=q, model_a=a, model_b=b, winner=rng.choice(WINNERS + ["tie (inconsistent)"]),
                 judge=["gpt-4", "pair-v2"], turn=t, conversation_a=CONVERSATION, conversation_b=CONVERSATION)
            for q, a, b, t in rng.sample(keys, 2400)]
    voted = [(v["question_id"], v["model_a"], v["model_b"], v["turn"]) for v in gpt4]
    human = []
    for _ in range(3355):
        q, a, b, t = rng.choice(voted)
        if rng.random() < 0.5:  # the human saw the pair the other way round
            a, b = b, a
        judge = f"author_{rng.randrange(6)}" if rng.random() < 0.2 else f"expert_{rng.randrange(60)}"
        human.append(dict(question_id=q, model_a=a, model_b=b, winner=rng.choice(WINNERS), judge=judge, turn=t,
                          conversation_a=CONVERSATION, conversation_b=CONVERSATION))
    human_file, gpt4_file = folder / "human_judgments.json", folder / "gpt4_pair_judgments.json"
    human_file.write_text(json.dumps(human))
    gpt4_file.write_text(json.dumps(gpt4))
    return human_file, gpt4_file


def write_pair_file(path: Path, judge: str, seed: int, n_models: int = 10) -> None:
    rng = random.Random(seed)
    models = [f"model-{m:02d}" for m in range(n_models)]
    with open(path, "w") as f:
        for i in range(n_models):
            for j in range(i + 1, n_models):
                for q in range(81, 161):
                    for turn in (1, 2):
                        g1, g2 = rng.choices(["model_1", "model_2", "tie", "error"], [0.4, 0.4, 0.19, 0.01], k=2)
                        f.write(json.dumps({
                            "question_id": q, "model_1": models[i], "model_2": models[j], "g1_winner": g1,
                            "g2_winner": g2, "judge": [judge, "pair-v2"], "g1_user_prompt": PROMPT,
                            "g1_judgment": JUDGMENT + "[[A]]", "g2_user_prompt": PROMPT,
                            "g2_judgment": JUDGMENT + "[[B]]", "turn": turn, "tstamp": 1.7e9,
                        }) + "\n")


def fastchat_agreement(vote_files: list[Path]) -> list[tuple[int, bool, int, int]]:
    """compute_agreement's algorithm: pooled JSON arrays; gpt4-pair vs human per turn, with/without ties."""
    votes = [v for path in vote_files for v in json.loads(path.read_text())]

    def judge_name(judge):
        if isinstance(judge, list) and judge[0] == "gpt-4" and judge[1].startswith("pair"):
            return "gpt4-pair"
        if judge.startswith("expert"):
            return "human"
        return "author" if judge.startswith("author") else None

    out = []
    for turn in (1, 2):
        buckets: dict[str, dict[tuple, list[str]]] = {"gpt4-pair": {}, "human": {}}
        for v in votes:
            name = judge_name(v["judge"])
            if name not in buckets or v["turn"] != turn:
                continue
            a, b, w = v["model_a"], v["model_b"], v["winner"]
            if a > b:
                a, b = b, a
                w = {"model_a": "model_b", "model_b": "model_a"}.get(w, w)
            buckets[name].setdefault((v["question_id"], a, b), []).append(w)
        for ties in (True, False):
            total = agree = 0
            for key, mine in buckets["gpt4-pair"].items():
                assert len(mine) == 1
                for theirs in buckets["human"].get(key, []):
                    if not ties and ("tie" in mine[0] or "tie" in theirs):
                        continue
                    total += 1
                    agree += ("tie" in mine[0] and "tie" in theirs) or mine[0] == theirs
            out.append((turn, ties, total, agree))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        human_file, gpt4_file = write_votes(folder)
        judge_a, judge_b = folder / "gpt-4_pair.jsonl", folder / "llama-judge_pair.jsonl"
        write_pair_file(judge_a, "gpt-4", 1)
        write_pair_file(judge_b, "llama-judge", 2)

        human_config = AgreementConfig(human_files=(human_file, gpt4_file), human_vs_human=True)
        # the two implementations must agree before their speed means anything
        ours = {(int(r.turn), r.ties): (r.total, r.agree) for r in agreement(human_config).rows
                if r.comparison == "gpt4-pair vs human" and r.turn != "all"}
        assert ours == {(t, ties): (n, k) for t, ties, n, k in fastchat_agreement([human_file, gpt4_file])}

        judges_config = AgreementConfig(judgment_files=(judge_a, judge_b))
        for case, config, cli_args, baseline, baseline_name in (
            ("human", human_config, ["--human", str(human_file), str(gpt4_file), "--human-vs-human"],
             lambda: fastchat_agreement([human_file, gpt4_file]), "FastChat algorithm"),
            ("judges", judges_config, ["--judgments", str(judge_a), str(judge_b)],
             lambda: (load_pair_judgments(judge_a), load_pair_judgments(judge_b)), "read both files"),
        ):
            cmd = [sys.executable, "-m", "mtbench", "agreement", *cli_args]
            cli_s = median_time(lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True, env=env),
                                args.repeats)
            library_s = median_time(lambda config=config: render(agreement(config)), args.repeats)
            baseline_s = median_time(baseline, args.repeats)
            rows.append((case, cli_s, library_s, baseline_name, baseline_s))
        sizes = {p.name: p.stat().st_size / 1e6 for p in (human_file, gpt4_file, judge_a, judge_b)}

    print("files: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sizes.items())
          + f"; median of {args.repeats}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    header = ("case", "cli (s)", "library (s)", "baseline", "baseline (s)", "library / baseline")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join([":---", "---:", "---:", ":---", "---:", "---:"]) + "|")
    for case, cli_s, library_s, baseline_name, baseline_s in rows:
        print(f"| {case} | {cli_s:.2f} | {library_s:.3f} | {baseline_name} | {baseline_s:.3f} | "
              f"{library_s / baseline_s:.2f} |")


if __name__ == "__main__":
    main()
