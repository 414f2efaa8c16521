"""Measure the GPT-4 judge's biases on the real judgments in shared/mt_bench_reference (the numbers in docs/bias.md).

    python scripts/bias_reference.py [--bootstrap N] [--out DIR]

1. the third-party runs (GPT-4 single judgments of three models, GPT-4 pair judgments phi-3 vs phi-3-dpo): run
   ``mtbench bias`` on them as they are (their answer files lie beside the judgments);
2. human_judgments_partial/human_gpt_comparison.zip: its GPT-4 pair votes become a FastChat pair file and its
   conversations the answer files, in a scratch folder (nothing here is committed); the votes carry only the
   match verdict (model_a, model_b, tie, "tie (inconsistent)" = the two games disagreed), so a disagreeing
   match is written as one game won by each side; ``mtbench bias`` then runs on it, and on the experts' votes
   (one sample per vote) as the reference judge for self-preference;
3. beside the judge, how often the experts' votes and GPT-4's consistent verdicts go to the longer answer, per
   match, on the same matches.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from mtbench.cli import main
from mtbench.show_result.bias import LENGTH_MARGIN, ratio_rate
from mtbench.show_result.stats import bootstrap_weights
from mtbench.show_result.style import answer_style

SHARED = Path(os.environ.get("MTBENCH_SHARED", "/work/shared"))
REFERENCE = SHARED / "mt_bench_reference"


def bias_json(*argv: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["bias", "--format", "json", *argv])
    if code != 0:
        raise SystemExit(f"mtbench bias {' '.join(argv)} exited {code}")
    return json.loads(out.getvalue())


def assistant_turns(conversation: str) -> list[str]:
    return [text for text, role in ast.literal_eval(conversation) if role == "assistant"]


def human_layout(root: Path) -> tuple[Path, list[dict]]:
    """Write the zip's GPT-4 votes and answers as a bench under ``root``; return it and the expert votes."""
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(REFERENCE / "human_judgments_partial" / "human_gpt_comparison.zip") as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open("human_gpt_comparison.csv"), encoding="utf-8")))
    rows = [r for r in rows if r["turn_x"] == r["turn_y"]]  # the join pairs each vote with both turns' GPT-4 vote
    answers: dict[str, dict[int, list[str]]] = defaultdict(dict)
    gpt4: dict[tuple, str] = {}
    humans = []
    for r in rows:
        qid, turn = int(r["question_id"]), int(r["turn_y"])
        for side in ("a", "b"):
            turns = assistant_turns(r[f"conversation_{side}_y"])
            if len(turns) >= len(answers[r[f"model_{side}"]].get(qid, [])):
                answers[r[f"model_{side}"]][qid] = turns
        gpt4[(qid, r["model_a"], r["model_b"], turn)] = r["winner_y"]
        humans.append({"question_id": qid, "model_a": r["model_a"], "model_b": r["model_b"], "turn": turn,
                       "judge": r["judge_x"], "winner": r["winner_x"]})
    bench = root / "human"
    (bench / "model_answer").mkdir(parents=True)
    (bench / "model_judgment").mkdir()
    for model, by_q in answers.items():
        with open(bench / "model_answer" / f"{model}.jsonl", "w") as f:
            for qid in sorted(by_q):
                f.write(json.dumps({"question_id": qid, "model_id": model,
                                    "choices": [{"index": 0, "turns": by_q[qid]}]}) + "\n")
    games = {"model_a": ("model_1", "model_1"), "model_b": ("model_2", "model_2"), "tie": ("tie", "tie"),
             "tie (inconsistent)": ("model_1", "model_2")}

    def record(qid: int, a: str, b: str, turn: int, winner: str, judge: str, sample: int = 0) -> str:
        g1, g2 = games[winner]
        return json.dumps({"question_id": qid, "model_1": a, "model_2": b, "g1_winner": g1, "g2_winner": g2,
                           "judge": [judge, "pair-v2"], "g1_user_prompt": "", "g1_judgment": "",
                           "g2_user_prompt": "", "g2_judgment": "", "turn": turn, "tstamp": 0.0,
                           **({"sample": sample} if sample else {})}) + "\n"

    with open(bench / "model_judgment" / "gpt-4_pair.jsonl", "w") as f:
        f.writelines(record(*key, winner, "gpt-4") for key, winner in gpt4.items())
    seen: dict[tuple, int] = defaultdict(int)
    experts = [h for h in humans if h["judge"].startswith("expert")]
    with open(bench / "model_judgment" / "experts_pair.jsonl", "w") as f:
        for h in experts:
            key = (h["question_id"], h["model_a"], h["model_b"], h["turn"])
            f.write(record(*key, h["winner"], "experts", seen[key]))
            seen[key] += 1
    return root, [*experts, *({"judge": "gpt-4", "question_id": k[0], "model_a": k[1], "model_b": k[2],
                               "turn": k[3], "winner": w} for k, w in gpt4.items())]


def longer_preference(votes: list[dict], bench: Path, n_bootstrap: int) -> dict[str, dict]:
    """Per voter kind (experts, gpt-4): the share of decided votes, among those whose answers' lengths differ
    by more than 10%, that went to the longer answer, with its bootstrap CI over questions."""
    lengths: dict[tuple[str, int, int], int] = {}
    for path in (bench / "model_answer").glob("*.jsonl"):
        for line in path.open():
            a = json.loads(line)
            for t, text in enumerate(a["choices"][0]["turns"], start=1):
                lengths[(path.stem, a["question_id"], t)] = answer_style(text).length
    qids = sorted({v["question_id"] for v in votes})
    q_index = {q: i for i, q in enumerate(qids)}
    out: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((2, len(qids))))
    for v in votes:
        if v["winner"] not in ("model_a", "model_b"):
            continue
        la = lengths[(v["model_a"], v["question_id"], v["turn"])]
        lb = lengths[(v["model_b"], v["question_id"], v["turn"])]
        if max(la, lb) <= LENGTH_MARGIN * min(la, lb):
            continue
        kind = "experts" if v["judge"].startswith("expert") else v["judge"]
        out[kind][0, q_index[v["question_id"]]] += (la > lb) == (v["winner"] == "model_a")
        out[kind][1, q_index[v["question_id"]]] += 1
    weights = bootstrap_weights(len(qids), n_bootstrap, 0)
    return {k: ratio_rate(n[0], n[1], weights).to_json() for k, n in out.items()}


def main_script() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="1000")
    parser.add_argument("--out", type=Path, help="write the JSON results here")
    args = parser.parse_args()
    runs = REFERENCE / "third_party_runs"
    boot = ["--bootstrap", args.bootstrap]
    results: dict[str, object] = {}
    results["muhan421 single"] = bias_json("--data-dir", str(runs), "--bench-name", "muhan421_fastchat-eval", *boot)
    results["Stefanstud single"] = bias_json("--data-dir", str(runs), "--bench-name", "Stefanstud_FastChat", *boot)
    results["Stefanstud pair"] = bias_json("--data-dir", str(runs), "--bench-name", "Stefanstud_FastChat",
                                           "--mode", "pairwise-all", *boot)
    with tempfile.TemporaryDirectory() as tmp:
        root, votes = human_layout(Path(tmp))
        results["human_gpt_comparison gpt-4 pair"] = bias_json(
            "--data-dir", str(root), "--bench-name", "human", "--mode", "pairwise-all", *boot,
            "--self", "gpt-4", "gpt-3.5-turbo", "--reference-judge", "experts")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["show", "--data-dir", str(root), "--bench-name", "human", "--mode", "pairwise-all",
                         "--control", "style", "--bootstrap", args.bootstrap, "--format", "json"])
        if code != 0:
            raise SystemExit(f"mtbench show --control style exited {code}")
        results["human_gpt_comparison show --control style"] = {
            r["model"]: {k: r[k] for k in ("win_rate_adjusted", "bt_win_rate", "controlled_win_rate", "controlled_ci")}
            for r in json.loads(out.getvalue())["models"]}
        results["longer preference per match (wins, decided with lengths >10% apart)"] = longer_preference(
            votes, root / "human", int(args.bootstrap))
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main_script())
