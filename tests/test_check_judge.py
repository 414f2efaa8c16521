"""`mtbench check-judge` end to end: a small `download --pregenerated` layout built from ../shared (the official
answers of three models, published-style GPT-4 single judgments), a loopback judge that gives the published
score plus controlled noise, and every printed number checked against an independent computation."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter

import pytest

from mtbench.core.record_files import load_answers
from tests.cli import mtbench
from tests.openai_server import OpenAITestServer
from tests.test_judge import OFFICIAL, add_answers, rows

MODELS = ("gpt-4", "vicuna-13b-v1.3", "llama-13b")
FIRST_N = 4


def published_score(qid: int, model: str, turn: int) -> int:
    return 1 + (qid * 7 + len(model) * 3 + turn * 5) % 10


def noise(qid: int, model: str, turn: int) -> int:
    """Controlled: most items exact, some one point off, a few three points off."""
    h = (qid * 31 + len(model) * 17 + turn * 13) % 8
    return {0: 1, 1: -1, 2: 3}.get(h, 0)


def judged_score(qid: int, model: str, turn: int) -> int:
    return max(1, min(10, published_score(qid, model, turn) + noise(qid, model, turn)))


@pytest.fixture()
def pregenerated(data_dir):
    """The layout `mtbench download --pregenerated` leaves: answers, and GPT-4's published single judgments."""
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in MODELS))
    questions = [json.loads(x) for x in (data_dir / "mt_bench" / "question.jsonl").read_text().splitlines()]
    lines = []
    for q in questions[: FIRST_N + 2]:  # the published file covers more than the check reads
        for model in MODELS:
            for turn in (1, 2):
                lines.append({
                    "question_id": q["question_id"], "model": model,
                    "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                    "user_prompt": "...", "judgment": "published", "score": published_score(q["question_id"], model, turn),
                    "turn": turn, "tstamp": 0.0,
                })
    out = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return data_dir, questions[:FIRST_N]


def responder(data_dir):
    """Finds which (question, model, turn) a judge prompt is about by the answer it quotes."""
    answers = {m: load_answers(data_dir / "mt_bench" / "model_answer" / f"{m}.jsonl") for m in MODELS}

    def respond(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        turn = 2 if "Conversation with User" in prompt else 1
        hits = [(qid, m) for m, by_q in answers.items() for qid, a in by_q.items() if a.turns[0] in prompt]
        qid, model = max(hits, key=lambda h: len(answers[h[1]][h[0]].turns[0]))
        return f"Rating: [[{judged_score(qid, model, turn)}]]"

    return respond


def check(data_dir, server, *args: str) -> subprocess.CompletedProcess:
    return mtbench("check-judge", "--data-dir", data_dir, "--judge-base-url", server.base_url, "--first-n",
                   str(FIRST_N), "--no-progress", *args, env={"OPENAI_API_KEY": "sk-check", "OPENAI_BASE_URL": None})


def independent_kappa(pairs: list[tuple[int, int]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    pa, pb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(pa[k] * pb[k] for k in range(1, 11)) / n / n
    return (observed - expected) / (1 - expected)


def test_check_judge_prints_drift_equal_to_an_independent_computation(pregenerated):
    data_dir, questions = pregenerated
    with OpenAITestServer(responder(data_dir)) as server:
        done = check(data_dir, server)
        calls = len(server.chat_requests)
    assert done.returncode == 0, done.stderr
    items = [(q["question_id"], m, t) for q in questions for m in MODELS for t in (1, 2)]
    assert calls == len(items)
    out = done.stdout
    assert "estimated cost" in out  # the plan, before any call
    for model in MODELS:
        mine = [i for i in items if i[1] == model]
        pub = sum(published_score(*i) for i in mine) / len(mine)
        new = sum(judged_score(*i) for i in mine) / len(mine)
        line = next(x for x in out.splitlines() if x.startswith(model + " "))
        assert line.split() == [model, str(len(mine)), f"{pub:.2f}", f"{new:.2f}", f"{new - pub:+.2f}"]
    pairs = [(published_score(*i), judged_score(*i)) for i in items]
    exact = sum(a == b for a, b in pairs) / len(pairs)
    within = sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs)
    assert 0 < exact < within < 1  # the noise is really there, at both sizes
    summary = re.search(r"over (\d+) items: exact agreement ([\d.]+), within one point ([\d.]+), Cohen's kappa ([-\d.]+)", out)
    assert summary is not None, out
    assert summary.groups() == (str(len(items)), f"{exact:.3f}", f"{within:.3f}", f"{independent_kappa(pairs):.3f}")
    written = rows(data_dir / "mt_bench" / "model_judgment" / "check_judge" / "gpt-4_single.jsonl")
    assert len(written) == len(items)
    published = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    assert all(r["judgment"] == "published" for r in rows(published))  # the published file is never written

    with OpenAITestServer(responder(data_dir)) as server:  # a rerun resumes: no call, same numbers
        again = check(data_dir, server)
        assert again.returncode == 0 and not server.chat_requests
    assert summary.group(0) in again.stdout


def test_dry_run_and_max_cost_call_nothing(pregenerated):
    data_dir, _ = pregenerated
    with OpenAITestServer(responder(data_dir)) as server:
        dry = check(data_dir, server, "--dry-run", "--price-input", "1", "--price-output", "1")
        over = check(data_dir, server, "--max-cost", "0.000001", "--price-input", "30", "--price-output", "60")
        assert not server.chat_requests
    assert dry.returncode == 0 and "API calls: 24" in dry.stdout and "estimated cost" in dry.stdout
    assert over.returncode == 2 and "above --max-cost" in over.stderr and "Traceback" not in over.stderr
    assert not (data_dir / "mt_bench" / "model_judgment" / "check_judge" / "gpt-4_single.jsonl").exists()


def test_missing_published_judgments_is_one_line(data_dir):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in MODELS))
    with OpenAITestServer(lambda body: "Rating: [[5]]") as server:
        missing = check(data_dir, server)
    assert missing.returncode == 2 and "download --pregenerated" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
