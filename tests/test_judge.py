"""`mtbench judge` end to end: the real CLI as a subprocess, the real openai client, a scripted HTTP server.

What reaches the wire is compared with real FastChat runs; faults, resume, key hygiene and user errors
are checked through the command a user runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from mtbench.core.record_files import load_judge_prompts, load_pair_judgments, load_single_judgments
from mtbench.core.records import latest_by_key
from tests.cli import mtbench
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS, REPO
from tests.helpers import lines as rows
from tests.openai_server import Reply, completion, error

KEY = "sk-secret-xyz"
OFFICIAL = REFERENCE_RUNS / "model_answer"
RUNS = REFERENCE_RUNS / "third_party_runs"
MUHAN = RUNS / "muhan421_fastchat-eval"
STEFAN = RUNS / "Stefanstud_FastChat"
SMALL = ("alpaca-13b", "gpt-3.5-turbo", "llama-13b")


def judge(data_dir: Path, server, *args: str, key: str = KEY) -> subprocess.CompletedProcess:
    return mtbench("judge", "--data-dir", data_dir, "--judge-base-url", server.base_url, *args,
                   env={"OPENAI_API_KEY": key, "OPENAI_BASE_URL": None}, cwd=REPO)


def add_answers(data_dir: Path, *files: Path) -> None:
    target = data_dir / "mt_bench" / "model_answer"
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, target / f.name)


def judge_in_process(data_dir: Path, server, *args: str) -> tuple[int, str, str]:
    out = judge(data_dir, server, *args)
    return out.returncode, out.stdout, out.stderr


def single_file(data_dir: Path, judge_model: str = "gpt-4") -> Path:
    return data_dir / "mt_bench" / "model_judgment" / f"{judge_model}_single.jsonl"


def pair_file(data_dir: Path, judge_model: str = "gpt-4") -> Path:
    return data_dir / "mt_bench" / "model_judgment" / f"{judge_model}_pair.jsonl"


@pytest.fixture(scope="module")
def system_prompts() -> dict[str, str]:
    return {name: p.system_prompt for name, p in load_judge_prompts(MT_BENCH_DATA / "judge_prompts.jsonl").items()}


def sent(server) -> list[tuple[str, str]]:
    """(system, user) of every chat request that reached the server, in arrival order."""
    out = []
    for r in server.chat_requests:
        messages = r.body["messages"]
        assert [m["role"] for m in messages] == ["system", "user"]
        out.append((messages[0]["content"], messages[1]["content"]))
    return out


# ---------------------------------------------------------------------------------------------------
# byte-identical prompts on the wire


@pytest.mark.slow
def test_single_wire_prompts_equal_fastchat_run(data_dir, openai_server, system_prompts):
    add_answers(data_dir, *sorted((MUHAN / "model_answer").glob("*.jsonl")))
    openai_server.responder = lambda body: "The answer is fine.\n\nRating: [[7]]"
    out = judge(data_dir, openai_server, "--parallel", "32")
    assert out.returncode == 0, out.stderr
    reference = rows(MUHAN / "model_judgment" / "gpt-4_single.jsonl")
    expected = Counter((system_prompts[r["judge"][1]], r["user_prompt"]) for r in reference)
    assert Counter(sent(openai_server)) == expected  # every recorded FastChat request, exactly once
    for r in openai_server.chat_requests:
        assert (r.body["model"], r.body["temperature"], r.body["max_tokens"]) == ("gpt-4", 0, 2048)
    # The records say which (question, model, turn) each prompt belongs to, as FastChat's do.
    ours = latest_by_key(load_single_judgments(single_file(data_dir)), lambda j: (j.question_id, j.model, j.turn))
    assert len(ours) == 320 and len(rows(single_file(data_dir))) == 320
    for ref in reference:
        mine = ours[(ref["question_id"], ref["model"], ref["turn"])]
        assert mine.user_prompt == ref["user_prompt"] and list(mine.judge) == ref["judge"]
        assert mine.score == 7 and mine.error is None
    assert "320 API calls" in out.stdout and "3,520 prompt" in out.stdout  # usage from the API (11 per call)


@pytest.mark.slow
def test_pair_wire_prompts_equal_fastchat_run_and_swap(data_dir, openai_server, system_prompts):
    add_answers(data_dir, *sorted((STEFAN / "model_answer").glob("*.jsonl")))
    openai_server.responder = lambda body: "Both are fine, A is slightly better. [[A]]"
    out = judge(data_dir, openai_server, "--mode", "pairwise-baseline", "--model-list", "phi-3",
                "--baseline-model", "phi-3-dpo", "--parallel", "16", "--no-progress")
    assert out.returncode == 0, out.stderr
    wire = sent(openai_server)
    assert len(wire) == 2 * 160 and len(set(wire)) == 320
    reference = rows(STEFAN / "model_judgment" / "gpt-4_pair.jsonl")  # turn 1, q126-130 missing
    wire_set = set(wire)
    for ref in reference:
        system = system_prompts[ref["judge"][1]]
        assert (system, ref["g1_user_prompt"]) in wire_set and (system, ref["g2_user_prompt"]) in wire_set
    # Game 1 is asked before game 2 of the same match, and "[[A]]" maps to model_1 then model_2.
    order = {user: i for i, (_, user) in enumerate(wire)}
    records = load_pair_judgments(pair_file(data_dir))
    assert len(records) == 160
    for rec in records:
        assert order[rec.g1_user_prompt] < order[rec.g2_user_prompt]
        assert (rec.model_1, rec.model_2, rec.g1_winner, rec.g2_winner) == ("phi-3", "phi-3-dpo", "model_1", "model_2")
    by_key = {(r.question_id, r.turn): r for r in records}
    for ref in reference:
        mine = by_key[(ref["question_id"], ref["turn"])]
        assert (mine.g1_user_prompt, mine.g2_user_prompt) == (ref["g1_user_prompt"], ref["g2_user_prompt"])


# ---------------------------------------------------------------------------------------------------
# the three modes on three models


def favour(model_answer_file: Path):
    """A judge that prefers one model: says [[A]] when that model's turn-1 answer is shown as A."""
    texts = {json.loads(line)["choices"][0]["turns"][0] for line in model_answer_file.read_text().splitlines()}

    def respond(body):
        shown_a = body["messages"][-1]["content"].split("Start of Assistant B", 1)[0]
        return "[[A]]" if any(text in shown_a for text in texts) else "[[B]]"

    return respond


def test_three_modes_three_models(data_dir, openai_server):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))
    openai_server.responder = lambda body: "Rating: [[6]]"
    out = judge(data_dir, openai_server, "--first-n", "3")
    assert out.returncode == 0, out.stderr
    single = load_single_judgments(single_file(data_dir))
    assert len(single) == len(openai_server.chat_requests) == 3 * 3 * 2
    assert {(j.model, j.turn) for j in single} == {(m, t) for m in SMALL for t in (1, 2)}
    assert {j.judge[1] for j in single} == {"single-v1", "single-v1-multi-turn"}

    openai_server.requests.clear()
    openai_server.responder = favour(OFFICIAL / "gpt-3.5-turbo.jsonl")
    out = judge(data_dir, openai_server, "--mode", "pairwise-baseline", "--first-n", "3", "--no-progress")
    assert out.returncode == 0, out.stderr
    base = load_pair_judgments(pair_file(data_dir))
    assert len(base) == 2 * 3 * 2 and len(openai_server.chat_requests) == 24
    assert {(p.model_1, p.model_2) for p in base} == {("alpaca-13b", "gpt-3.5-turbo"), ("llama-13b", "gpt-3.5-turbo")}
    # The favoured baseline wins both games: A in game 2 (its answer shown first), B in game 1.
    assert {(p.g1_winner, p.g2_winner) for p in base} == {("model_2", "model_2")}

    openai_server.requests.clear()
    out = judge(data_dir, openai_server, "--mode", "pairwise-all", "--first-n", "3", "--no-progress")
    assert out.returncode == 0, out.stderr
    both = load_pair_judgments(pair_file(data_dir))
    new = both[len(base):]
    assert len(new) == 2 * 3 * 2 and len(openai_server.chat_requests) == 24  # (alpaca, gpt-3.5) was judged already
    assert "already judged 6" in out.stdout
    pairs = {(p.model_1, p.model_2) for p in both}
    assert pairs == {("alpaca-13b", "gpt-3.5-turbo"), ("alpaca-13b", "llama-13b"), ("gpt-3.5-turbo", "llama-13b"),
                     ("llama-13b", "gpt-3.5-turbo")}
    for p in new:
        if p.model_1 == "gpt-3.5-turbo":
            assert (p.g1_winner, p.g2_winner) == ("model_1", "model_1")
        elif p.model_2 == "gpt-3.5-turbo":
            assert (p.g1_winner, p.g2_winner) == ("model_2", "model_2")


# ---------------------------------------------------------------------------------------------------
# faults


@pytest.mark.slow
def test_faults_end_as_the_policy_says_and_failures_are_values(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    ok = "Rating: [[8]]"
    openai_server.enqueue(
        error(429, "slow down", {"Retry-After": "0.3"}), ok,  # q81 t1: retried after Retry-After
        error(500), ok,  # q82 t1
        Reply(delay=3.0, body=completion("late").body), ok,  # q83 t1: hangs past --timeout 1
        Reply(drop=True), ok,  # q84 t1: connection dropped
        error(503), error(503), error(503),  # q85 t1: the endpoint never answers: not recorded
        Reply(body="{not json"), Reply(body="{not json"), Reply(body="{not json"),  # q81 t2: gives up
        completion(""), completion(""), completion(""),  # q82 t2: empty content, retried, gives up
        "I cannot decide.",  # q83 t2: no rating
        ok, ok,  # q84 t2, q85 t2
    )
    out = judge(data_dir, openai_server, "--first-n", "5", "--parallel", "1", "--timeout", "1",
                "--max-retries", "2", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert len(openai_server.chat_requests) == 20
    gap = openai_server.chat_requests[1].time - openai_server.chat_requests[0].time
    assert gap >= 0.28
    records = {(j.question_id, j.turn): j for j in load_single_judgments(single_file(data_dir))}
    assert [records[(q, 1)].score for q in (81, 82, 83, 84)] == [8, 8, 8, 8]
    assert [records[(q, 1)].extra["judge_call"]["attempts"] for q in (81, 82, 83, 84)] == [2, 2, 2, 2]
    assert records[(84, 2)].score == records[(85, 2)].score == 8
    assert (85, 1) not in records and len(records) == 9  # a transport failure is no judgment
    failed = {q: records[(q, 2)] for q in (81, 82, 83)}
    assert all(j.score is None for j in failed.values())
    assert failed[81].error.startswith("malformed response") and "3 attempts" in failed[81].error
    assert failed[82].error.startswith("empty reply") and "3 attempts" in failed[82].error
    assert failed[83].error.startswith("unparseable") and failed[83].judgment == "I cannot decide."
    raw = rows(single_file(data_dir))
    assert all(r["score"] != -1 and "$ERROR$" not in r["judgment"] for r in raw)
    assert "failed: 3" in out.stdout and "malformed response" in out.stdout and "empty reply" in out.stdout
    assert "not judged: 1 match(es)" in out.stdout and "HTTP 503" in out.stdout

    # A plain rerun judges the unanswered match and keeps the three recorded failures (no call for them);
    # --retry-failed judges exactly those three again.
    openai_server.requests.clear()
    openai_server.responder = lambda body: ok
    again = judge(data_dir, openai_server, "--first-n", "5", "--no-progress")
    assert again.returncode == 0 and len(openai_server.chat_requests) == 1
    assert "failed before and kept: 3" in again.stdout
    openai_server.requests.clear()
    retried = judge(data_dir, openai_server, "--first-n", "5", "--retry-failed", "--no-progress")
    assert retried.returncode == 0, retried.stderr
    assert len(openai_server.chat_requests) == 3
    latest = latest_by_key(load_single_judgments(single_file(data_dir)), lambda j: (j.question_id, j.turn))
    assert len(latest) == 10 and all(j.score == 8 for j in latest.values())


def test_transport_failures_are_judged_again_by_a_plain_rerun(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    ok = "Rating: [[8]]"
    openai_server.enqueue(ok, error(503, "overloaded"), ok, ok)
    out = judge(data_dir, openai_server, "--first-n", "2", "--parallel", "1", "--max-retries", "0", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert len(rows(single_file(data_dir))) == 3 and "not judged: 1 match(es)" in out.stdout
    # A file written before this rule holds a "connection failed" record: a rerun does not keep it either.
    lines = rows(single_file(data_dir))
    lines[0].update(score=None, error="connection failed: Connection refused (gave up after 7 attempts)")
    single_file(data_dir).write_text("".join(json.dumps(r) + "\n" for r in lines))
    openai_server.requests.clear()
    openai_server.responder = lambda body: ok
    again = judge(data_dir, openai_server, "--first-n", "2", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert len(openai_server.chat_requests) == 2 and "1 failed before, retried" in again.stdout
    latest = latest_by_key(load_single_judgments(single_file(data_dir)), lambda j: j.key)
    assert len(latest) == 4 and all(j.score == 8 for j in latest.values())


def test_endpoint_down_fails_in_one_line_before_any_call(data_dir):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")

    class Down:
        base_url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens on loopback

    out = judge(data_dir, Down(), "--first-n", "1", "--max-retries", "0", "--no-progress")
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("mtbench judge: error:")]
    assert len(errors) == 1 and "cannot reach http://127.0.0.1:9/v1" in errors[0], out.stderr
    assert "Traceback" not in out.stderr and not single_file(data_dir).exists()


def test_a_small_run_where_every_call_fails_exits_1(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: error(400, "model not supported")  # e.g. a wrong judge name
    out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress")  # 2 matches
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the first of 2, failed: HTTP 400" in out.stderr and "nothing written" in out.stderr
    assert len(openai_server.chat_requests) == 1  # the probe: the other match was never sent
    assert not single_file(data_dir).exists()


def test_bad_key_stops_after_one_call_exit_1_without_leaking(data_dir, openai_server):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))
    openai_server.responder = lambda body: error(401, f"Incorrect API key provided: {KEY}")
    out = judge(data_dir, openai_server, "--parallel", "8", "--first-n", "5")
    assert out.returncode == 1
    assert len(openai_server.chat_requests) == 1
    assert "HTTP 401" in out.stderr and "Traceback" not in out.stderr
    assert KEY not in out.stderr + out.stdout
    assert "stopped after 1 judge request(s), nothing written" in out.stderr
    assert not single_file(data_dir).exists()  # no empty file that would list the judge in browse
    for r in openai_server.chat_requests:
        assert r.headers["Authorization"] == f"Bearer {KEY}"  # the key did go where it belongs


def test_key_never_reaches_output_or_logs(data_dir, openai_server):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL[:2]))
    # Replies that echo the key (a hostile or buggy proxy) are the judge's text, not ours; every error
    # path that we format must redact it.
    openai_server.enqueue("Rating: [[5]]", error(500, f"upstream said {KEY}"), error(400, f"bad request for {KEY}"))
    openai_server.responder = lambda body: "Rating: [[5]]"
    out = judge(data_dir, openai_server, "--first-n", "2", "--parallel", "1", "--no-progress",
                "--max-retries", "1")
    assert out.returncode == 0, out.stderr
    # -v: every debug line the libraries log (requests, retries) reaches the captured stderr too
    verbose = mtbench("-v", "judge", "--data-dir", data_dir, "--judge-base-url", openai_server.base_url, "--mode",
                      "pairwise-all", "--first-n", "2", "--max-failure-rate", "1",  # a rating is no pair verdict
                      env={"OPENAI_API_KEY": KEY})
    assert verbose.returncode == 0, verbose.stderr
    blob = out.stdout + out.stderr + verbose.stdout + verbose.stderr
    for f in (data_dir / "mt_bench").rglob("*"):
        if f.is_file():
            blob += f.read_text()
    assert KEY not in blob
    assert "HTTP 400" in single_file(data_dir).read_text()  # the failure is recorded, redacted


# ---------------------------------------------------------------------------------------------------
# resume


def test_finished_job_reruns_with_zero_calls_and_changed_answers_are_rejudged(data_dir, openai_server):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL[:2]))
    # a rating and a pair verdict in every reply, so both modes judge (the failure gate stays out of it)
    openai_server.responder = lambda body: "Rating: [[4]] [[A]]"
    assert judge(data_dir, openai_server, "--first-n", "5", "--no-progress").returncode == 0
    assert judge(data_dir, openai_server, "--mode", "pairwise-all", "--first-n", "5", "--no-progress").returncode == 0
    before = len(openai_server.chat_requests)
    assert before == 20 + 2 * 10
    for mode in ("single", "pairwise-all"):
        out = judge(data_dir, openai_server, "--mode", mode, "--first-n", "5", "--no-progress")
        assert out.returncode == 0 and "nothing to judge" in out.stdout
    assert len(openai_server.chat_requests) == before

    # A regenerated answer for q82 (appended: the last line wins, as in FastChat) re-judges its matches only.
    path = data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"
    record = next(json.loads(line) for line in path.read_text().splitlines() if json.loads(line)["question_id"] == 82)
    record["choices"][0]["turns"][1] = "A new second turn."
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
    openai_server.requests.clear()
    out = judge(data_dir, openai_server, "--first-n", "5", "--no-progress")
    assert out.returncode == 0 and "1 whose prompt changed" in out.stdout
    assert len(openai_server.chat_requests) == 1  # only turn 2 shows the changed text
    assert "A new second turn." in openai_server.chat_requests[0].body["messages"][1]["content"]
    openai_server.requests.clear()
    out = judge(data_dir, openai_server, "--mode", "pairwise-all", "--first-n", "5", "--no-progress")
    assert out.returncode == 0 and len(openai_server.chat_requests) == 2
    single = rows(single_file(data_dir))
    assert len(single) == 21
    latest = latest_by_key(load_single_judgments(single_file(data_dir)), lambda j: (j.question_id, j.model, j.turn))
    assert len(latest) == 20 and "A new second turn." in latest[(82, "alpaca-13b", 2)].user_prompt


def test_the_judge_hands_its_news_as_typed_events(data_dir, openai_server, monkeypatch):
    """``mtbench run`` reads the judge's plan and news as values (``on_event``), never its printed text."""
    from mtbench.core.bench import BenchLayout
    from mtbench.core.client import EndpointConfig
    from mtbench.gen_judgment import JudgeConfig, NothingToJudge, PlanMade
    from mtbench.gen_judgment import judge as run_judge

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: "Rating: [[4]]"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = JudgeConfig(BenchLayout(data_dir), first_n=2, progress=False,
                         endpoint=EndpointConfig(base_url=openai_server.base_url))
    events: list = []
    summary = run_judge(config, on_event=events.append, announce=pytest.fail)
    assert [type(e) for e in events] == [PlanMade] and len(events[0].plan.resume.todo) == 4
    assert summary is not None and summary.written == 4 and "4 API calls" in summary.describe()
    events.clear()
    assert run_judge(config, on_event=events.append, announce=pytest.fail) is None
    assert [type(e) for e in events] == [PlanMade, NothingToJudge]
    assert not events[0].plan.resume.todo and events[1].output == single_file(data_dir)


# ---------------------------------------------------------------------------------------------------
# plan, cost and user errors


def test_plan_dry_run_and_max_cost(data_dir, openai_server, capsys, monkeypatch):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))

    def run(*args):
        return judge_in_process(data_dir, openai_server, *args)

    code, out, _ = run("--dry-run")
    assert code == 0 and openai_server.chat_requests == []
    assert "matches: 480" in out and "API calls: 480" in out
    cost = float(re.search(r"estimated cost: \$([\d.,]+)", out).group(1).replace(",", ""))
    assert 5 < cost < 40  # 480 gpt-4 calls of ~650 prompt tokens + 250 assumed out, at $30/$60 per 1M
    code, _, err = run("--max-cost", "1")
    assert code == 2 and "above --max-cost" in err
    assert openai_server.chat_requests == []
    code, out, _ = run("--judge-model", "my-local-judge", "--dry-run")
    assert code == 0 and "estimated cost: unknown" in out
    code, _, err = run("--judge-model", "my-local-judge", "--max-cost", "5")
    assert code == 2 and "price of my-local-judge is unknown" in err
    code, out, _ = run("--judge-model", "my-local-judge", "--dry-run", "--price-input", "1", "--price-output", "2",
                       "--mode", "pairwise-all")
    assert "API calls: 960" in out and "estimated cost: $" in out
    # A dry run says when the real run would be refused, and exits as it would.
    code, out, err = run("--dry-run", "--max-cost", "1")
    assert code == 2 and "matches: 480" in out
    assert "the real run would be refused" in err and "above --max-cost" in err and len(err.splitlines()) == 1
    # The reply estimate never exceeds --max-tokens.
    code, out, _ = run("--dry-run", "--max-tokens", "100")
    assert code == 0 and "+ 48,000 out (100 per call: a short reply assumed)" in out


def test_failed_answers_are_not_judged_and_reported(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    path = data_dir / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"
    lines = path.read_text().splitlines()
    broken = []
    for line in lines:
        rec = json.loads(line)
        if rec["question_id"] == 81:
            rec["choices"][0]["turns"][1] = "$ERROR$"
        if rec["question_id"] == 82:
            continue  # missing
        broken.append(json.dumps(rec))
    path.write_text("\n".join(broken) + "\n")
    openai_server.responder = lambda body: "[[5]]"
    out = judge(data_dir, openai_server, "--first-n", "3", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert len(openai_server.chat_requests) == 2  # q83 both turns
    assert "answer failed to generate (q 81)" in out.stdout and "no answer in the answer file (q 82)" in out.stdout


@pytest.mark.parametrize(
    "args, prepare, message",
    [
        ([], lambda d: None, "no answer files"),
        (["--model-list", "nobody"], "answers", "model_answer/nobody.jsonl does not exist"),
        (["--mode", "pairwise-baseline", "--model-list", "alpaca-13b"], "answers", "baseline answers"),
        (["--mode", "pairwise-all", "--model-list", "alpaca-13b"], "answers", "at least 2 models"),
        (["--reference", "gpt-5"], "answers", "mtbench download"),
        (["--first-n", "0"], "answers", "--first-n"),
        (["--parallel", "0"], "answers", "--parallel"),
        (["--judge-base-url", "localhost:8401"], "answers", "must be an http:// or https:// URL with a host"),
        (["--max-tokens", "0"], "answers", "--max-tokens must be at least 1"),
    ],
)
def test_user_errors_are_one_line_exit_2(data_dir, openai_server, args, prepare, message, capsys, monkeypatch):
    if prepare == "answers":
        add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    code, out, err = judge_in_process(data_dir, openai_server, *args)
    assert code == 2, out + err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert openai_server.chat_requests == []


def test_empty_question_file_is_named(data_dir, openai_server, capsys, monkeypatch):
    (data_dir / "mt_bench" / "question.jsonl").write_text("")
    code, out, err = judge_in_process(data_dir, openai_server)
    assert code == 2 and "question.jsonl holds no questions" in err and len(err.splitlines()) == 1, err


def test_read_only_judgment_folder_is_one_line_before_any_call(data_dir, openai_server, small_disk):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    small_disk(data_dir / "mt_bench" / "model_judgment").read_only()
    out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "cannot write" in out.stderr and "Read-only" in out.stderr
    assert openai_server.requests == []  # not even the preflight


def test_full_disk_is_one_line(data_dir, openai_server, small_disk):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    disk = small_disk(data_dir / "mt_bench" / "model_judgment", 64)
    with contextlib.suppress(OSError):  # the fixture's own close of its filler hits the full disk too
        disk.fill()
    openai_server.responder = lambda body: "[[5]]"
    out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress")
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("mtbench judge: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_user_error_through_the_real_command(data_dir, openai_server):
    out = judge(data_dir, openai_server)
    assert out.returncode == 2 and "no answer files" in out.stderr and "Traceback" not in out.stderr


def test_endpoint_going_down_mid_run_stops_the_run(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.enqueue("Rating: [[5]]")
    openai_server.responder = lambda body: error(503, "down for maintenance")
    out = judge(data_dir, openai_server, "--first-n", "10", "--parallel", "1", "--max-retries", "0", "--no-progress")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed at the endpoint" in out.stderr and "HTTP 503" in out.stderr and "Traceback" not in out.stderr
    assert len(openai_server.chat_requests) == 4  # of 20 matches: the probe, then a streak of 3
    assert len(rows(single_file(data_dir))) == 1  # the failures are no judgments: a rerun judges them


def test_a_second_run_on_the_same_file_is_refused(data_dir, openai_server):
    from filelock import FileLock

    from mtbench.core.records import lock_path

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    path = single_file(data_dir)
    path.parent.mkdir(parents=True)
    with FileLock(lock_path(path)):  # what a run in another process holds
        out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress")
    assert out.returncode == 2 and "another mtbench judge is writing" in out.stderr
    assert openai_server.chat_requests == []


def test_served_model_names_with_a_slash(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: "[[3]]"
    out = judge(data_dir, openai_server, "--first-n", "1", "--judge-model", "meta-llama/Llama-3.1-70B-Instruct",
                "--no-progress")
    assert out.returncode == 0, out.stderr
    assert {r.body["model"] for r in openai_server.chat_requests} == {"meta-llama/Llama-3.1-70B-Instruct"}
    records = rows(data_dir / "mt_bench" / "model_judgment" / "meta-llama__Llama-3.1-70B-Instruct_single.jsonl")
    assert [r["judge"][0] for r in records] == ["meta-llama/Llama-3.1-70B-Instruct"] * 2
