"""Repeated judging end to end: `judge --judge-samples N` against a seeded noisy loopback judge, then `show`.

The judge's rating for a prompt is drawn from a seeded distribution (the request's ``seed`` and the prompt
pick it), so a deterministic judge (no noise) and a noisy one can be told apart by the noise columns, and
every printed number is checked against an independent computation from the records.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import sys
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from mtbench.core.records import PairJudgment
from mtbench.show_result.pairwise import match_outcome
from mtbench.show_result.samples import majority_outcome, majority_pairs
from tests.cli import mtbench
from tests.openai_server import OpenAITestServer
from tests.test_judge import OFFICIAL, SMALL, add_answers, judge, pair_file, rows, single_file
from tests.test_judge_kill import kill_once_calling

MODELS = ("alpaca-13b", "llama-13b")


def seeded_judge(noise: int):
    """A judge whose rating is the prompt's base score (3..8) plus a seeded draw in [-noise, +noise]."""

    def respond(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        base = 3 + int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 6
        draw = random.Random(f"{prompt}|{body.get('seed')}").randint(-noise, noise) if noise else 0
        return f"Judged. Rating: [[{max(1, min(10, base + draw))}]]"

    return respond


def show_json(data_dir, *args: str) -> dict:
    out = mtbench("show", "--data-dir", data_dir, "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def expected_scores(records: list[dict], how=statistics.median) -> dict[str, float]:
    """Independent: per (question, model, turn) the median of the samples, then each model's pooled mean."""
    cells = defaultdict(list)
    for r in records:
        cells[(r["question_id"], r["model"], r["turn"])].append(r["score"])
    per_model = defaultdict(list)
    for (_, model, _), scores in cells.items():
        per_model[model].append(how(scores))
    return {m: sum(v) / len(v) for m, v in per_model.items()}


@pytest.mark.parametrize("noise", [0, 2])
@pytest.mark.slow
def test_five_samples_per_match_median_and_noise(data_dir, noise):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in MODELS))
    with OpenAITestServer(seeded_judge(noise)) as server:
        done = judge(data_dir, server, "--judge-samples", "5", "--first-n", "6", "--model-list", *MODELS,
                     "--no-progress")
        assert done.returncode == 0, done.stderr
        assert "(" in done.stdout and "x 5 samples)" in done.stdout  # the plan multiplies by N
        seeds = sorted(Counter(r.body.get("seed") for r in server.chat_requests).items())
    records = rows(single_file(data_dir))
    per_match = Counter((r["question_id"], r["model"], r["turn"]) for r in records)
    assert set(per_match.values()) == {5}
    assert {r["sample"] for r in records} == set(range(5)) and all(r["seed"] == r["sample"] for r in records)
    assert [s for s, _ in seeds] == [0, 1, 2, 3, 4]  # sample i sent seed i

    report = show_json(data_dir)
    got = {m["model"]: m for m in report["models"]}
    for model, score in expected_scores(records).items():
        assert got[model]["overall"] == pytest.approx(score)
    means = {m: [] for m in MODELS}
    for model in MODELS:
        for s in range(5):
            scores = [r["score"] for r in records if r["model"] == model and r["sample"] == s]
            means[model].append(sum(scores) / len(scores))
        row = got[model]
        assert row["samples"] == 5
        assert row["noise_sd"] == pytest.approx(statistics.stdev(means[model]))
        assert (row["noise_min"], row["noise_max"]) == pytest.approx((min(means[model]), max(means[model])))
        if noise:
            assert row["noise_sd"] > 0
            assert row["ci2_high"] - row["ci2_low"] > row["ci_high"] - row["ci_low"]  # both sources are wider
        else:
            assert row["noise_sd"] == 0 and row["noise_min"] == row["noise_max"]
            assert (row["ci2_low"], row["ci2_high"]) == pytest.approx((row["ci_low"], row["ci_high"]))
    mean_report = show_json(data_dir, "--aggregate", "mean")
    for m in mean_report["models"]:
        assert m["overall"] == pytest.approx(expected_scores(records, statistics.mean)[m["model"]])

    # FastChat's show_result reads our file: pandas read_json on the lines, its columns, its arithmetic.
    df = pd.read_json(single_file(data_dir), lines=True)[["model", "score", "turn"]]
    assert len(df) == len(records) and df[df["score"] != -1].groupby("model")["score"].mean().notna().all()

    compare = show_json(data_dir, "--compare", *MODELS)["comparison"]
    assert compare["samples"] == 5 and compare["in_words"].startswith(f"{MODELS[0]} - {MODELS[1]} = ")
    assert ("not distinguishable" in compare["in_words"]) != compare["significant"]


def test_default_run_writes_no_sample_and_sends_no_seed(data_dir):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    with OpenAITestServer(seeded_judge(0)) as server:
        done = judge(data_dir, server, "--first-n", "2", "--model-list", "alpaca-13b", "--no-progress")
        assert done.returncode == 0, done.stderr
        assert all("seed" not in r.body for r in server.chat_requests)
        records = rows(single_file(data_dir))
        assert records and all("sample" not in r and "seed" not in r for r in records)
        # Raising N later adds samples 1..N-1 only (the records without a field are sample 0).
        more = judge(data_dir, server, "--judge-samples", "3", "--first-n", "2", "--model-list", "alpaca-13b",
                     "--no-progress")
        assert more.returncode == 0, more.stderr
    records = rows(single_file(data_dir))
    per_match = Counter((r["question_id"], r["turn"], r.get("sample", 0)) for r in records)
    assert set(per_match.values()) == {1} and {s for *_, s in per_match} == {0, 1, 2}
    assert "already judged 4" in more.stdout  # the default run's 4 matches count as sample 0 of 12


def test_judge_samples_must_be_positive(data_dir):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    with OpenAITestServer(seeded_judge(0)) as server:
        bad = judge(data_dir, server, "--judge-samples", "0")
    assert bad.returncode == 2 and "--judge-samples must be at least 1" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_kill_during_three_sample_run_then_rerun_gives_exactly_three(data_dir):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))
    env = {**os.environ, "OPENAI_API_KEY": "sk-kill-test"}
    env.pop("OPENAI_BASE_URL", None)
    with OpenAITestServer(seeded_judge(1), latency=0.05) as server:
        command = [sys.executable, "-m", "mtbench", "judge", "--data-dir", str(data_dir), "--judge-base-url",
                   server.base_url, "--first-n", "20", "--judge-samples", "3", "--parallel", "8", "--no-progress"]
        rng = random.Random("kill-samples")
        for _ in range(2):
            kill_once_calling(command, server, env, rng, (0.1, 0.5))
        assert 0 < len(rows(single_file(data_dir))) < 3 * 120
        # the kills need a process; the rerun that checks the result does not
        final = mtbench(*command[3:], env={"OPENAI_API_KEY": "sk-kill-test", "OPENAI_BASE_URL": None})
        assert final.returncode == 0, final.stderr
    keys = Counter((r["question_id"], r["model"], r["turn"], r["sample"]) for r in rows(single_file(data_dir)))
    assert set(keys.values()) == {1}
    per_match = Counter(k[:3] for k in keys)
    assert len(per_match) == 120 and set(per_match.values()) == {3}


def test_pairwise_samples_majority_and_agreement(data_dir):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in MODELS))

    def respond(body: dict) -> str:  # verdict drawn per (prompt, seed): A most of the time
        draw = random.Random(f"{body['messages'][-1]['content']}|{body.get('seed')}").random()
        return "[[A]]" if draw < 0.6 else "[[B]]" if draw < 0.8 else "[[C]]"

    with OpenAITestServer(respond) as server:
        done = judge(data_dir, server, "--mode", "pairwise-all", "--judge-samples", "3", "--first-n", "8",
                     "--model-list", *MODELS, "--no-progress")
        assert done.returncode == 0, done.stderr
    records = rows(pair_file(data_dir))
    groups = defaultdict(list)
    for r in records:
        groups[(r["question_id"], r["turn"])].append(match_outcome(r["g1_winner"], r["g2_winner"]))
    assert set(map(len, groups.values())) == {3}
    wins = Counter()
    agree = pairs = 0
    for outcomes in groups.values():
        ranked = Counter(outcomes).most_common()
        verdict = "tie" if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ranked[0][0]
        wins[verdict] += 1
        agree += sum(outcomes[i] == outcomes[j] for i in range(3) for j in range(i + 1, 3))
        pairs += 3
    report = show_json(data_dir, "--mode", "pairwise-all")
    row = {m["model"]: m for m in report["models"]}[MODELS[0]]
    assert (row["win"], row["loss"], row["tie"]) == (wins["model_1"], wins["model_2"], wins["tie"])
    assert report["samples"] == 3 and report["sample_agreement"] == pytest.approx(agree / pairs)
    consistent = sum(r["g1_winner"] == r["g2_winner"] for r in records) / len(records)
    assert report["consistency"] == pytest.approx(consistent)


def test_majority_outcome_ties_for_first_place_are_ties():
    assert majority_outcome(["model_1", "model_1", "model_2"]) == "model_1"
    assert majority_outcome(["model_1", "model_2"]) == "tie"
    assert majority_outcome(["tie", "tie", "model_2"]) == "tie"
    base = dict(question_id=1, model_1="a", model_2="b", judge=("j", "p"), g1_user_prompt="", g1_judgment="",
                g2_user_prompt="", g2_judgment="", turn=1)
    one = [PairJudgment(g1_winner="model_1", g2_winner="model_2", **base)]
    reduced = majority_pairs(one, match_outcome)
    assert reduced.records == one and np.isnan(reduced.agreement)  # one sample: nothing to agree with


def test_plan_and_cost_multiply_by_the_samples(data_dir):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    plans = {}
    with OpenAITestServer(seeded_judge(0)) as server:
        for n in ("1", "3"):
            dry = judge(data_dir, server, "--dry-run", "--judge-samples", n, "--first-n", "5")
            assert dry.returncode == 0, dry.stderr
            calls = int(dry.stdout.split("API calls: ")[1].split(";")[0])
            cost = float(dry.stdout.split("estimated cost: $")[1].split()[0])
            plans[n] = (calls, cost)
        assert not server.chat_requests
    assert plans["3"][0] == 3 * plans["1"][0] == 30
    assert plans["3"][1] == pytest.approx(3 * plans["1"][1], rel=0.01)


def test_retry_failed_judges_again_only_the_failed_samples(data_dir):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    args = ("--judge-samples", "3", "--first-n", "3", "--model-list", "alpaca-13b", "--no-progress")
    flaky = lambda body: "no verdict here" if body.get("seed") == 1 else "Rating: [[6]]"  # noqa: E731
    with OpenAITestServer(flaky) as server:
        first = judge(data_dir, server, *args)
        assert first.returncode == 0, first.stderr
    failed = [r for r in rows(single_file(data_dir)) if r["score"] is None]
    assert len(failed) == 6 and {r["sample"] for r in failed} == {1}  # 3 questions x 2 turns, sample 1
    shown = show_json(data_dir)
    assert shown["failed"] == 0 and "6 failed sample(s) left out of their match's median" in " ".join(shown["notes"])
    with OpenAITestServer(lambda body: "Rating: [[6]]") as server:
        plain = judge(data_dir, server, *args)
        assert plain.returncode == 0 and not server.chat_requests  # verdict failures are kept as done
        retried = judge(data_dir, server, "--retry-failed", *args)
        assert retried.returncode == 0, retried.stderr
        assert sorted(r.body["seed"] for r in server.chat_requests) == [1] * 6
    from mtbench.core.record_files import load_single_judgments
    from mtbench.core.records import latest_by_key

    latest = latest_by_key(load_single_judgments(single_file(data_dir)), lambda j: j.key)
    assert len(latest) == 18 and all(j.score == 6 for j in latest.values())


def test_an_endpoint_refusing_seed_is_adapted_once_and_recorded(data_dir):
    from tests.openai_server import Reply
    from tests.test_client import SEED_REFUSED

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    respond = seeded_judge(0)
    with OpenAITestServer(lambda body: Reply(status=400, body=SEED_REFUSED) if "seed" in body else respond(body)) as s:
        done = judge(data_dir, s, "--judge-samples", "3", "--first-n", "2", "--model-list", "alpaca-13b", "--no-progress")
        assert done.returncode == 0, done.stderr
        assert sum("seed" in r.body for r in s.chat_requests) == 1  # learnt on the probe, never sent again
    assert done.stderr.count("refuses seed") == 1
    records = rows(single_file(data_dir))
    assert len(records) == 12 and all("seed" not in r["judge_params"] for r in records)
