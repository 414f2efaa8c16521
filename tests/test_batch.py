"""`mtbench judge --batch` end to end: the real CLI, the openai SDK, the scripted server's Batch API.

Batches that complete, fail, expire with partial results, or carry per-request errors; kill -9 at
every step of a batch run (and at random moments while results are written), then a rerun: exactly
one record per match, and exactly one batch request submitted per match.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from mtbench.gen_judgment.batch import sidecar_path
from tests.conftest import REPO
from tests.openai_server import OpenAITestServer, error
from tests.test_judge import KEY, OFFICIAL, add_answers, judge, pair_file, rows, single_file

MODELS = ("alpaca-13b", "llama-13b")
FAST = ("--batch-poll-interval", "0.05", "--no-progress")


@pytest.fixture()
def server():
    with OpenAITestServer(lambda body: "Rating: [[6]]") as s:
        s.batch_seconds = 0.1
        yield s


@pytest.fixture()
def answers(data_dir: Path) -> Path:
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in MODELS))
    return data_dir


def keys(records: list[dict]) -> Counter:
    return Counter((r["question_id"], r.get("model") or (r["model_1"], r["model_2"]), r["turn"]) for r in records)


def test_batch_judges_every_match_once_with_the_live_requests(answers, server, tmp_path):
    extra = ("--judge-extra-body", '{"reasoning_effort": "low"}', "--judge-samples", "2")
    result = judge(answers, server, "--batch", "--first-n", "6", "--batch-size", "10", *extra, *FAST)
    assert result.returncode == 0, result.stderr
    assert "the Batch API's price" in result.stdout and "at $15 in / $30 out" in result.stdout
    records = rows(single_file(answers))
    assert len(records) == 2 * 6 * 2 * 2 and set(keys(records).values()) == {2}
    assert len({(r["question_id"], r["model"], r["turn"], r["sample"]) for r in records}) == 48
    assert {r["score"] for r in records} == {6} and all(r["batch_id"].startswith("batch_") for r in records)
    assert len(server.batch_creations) == 5  # 48 requests, at most 10 a batch
    assert all(b["request_counts"]["total"] <= 10 for b in server.batches.values())
    assert not sidecar_path(single_file(answers)).exists()
    # the same requests as live judging sends, byte for byte
    batch_bodies = sorted(json.dumps(json.loads(line)["body"], sort_keys=True)
                          for b in server.batches.values()
                          for line in server.files[b["input_file_id"]].decode().splitlines())
    live_dir = tmp_path / "live"
    (answers.parent / "data").rename(live_dir)
    live = OpenAITestServer(lambda body: "Rating: [[6]]").start()
    try:
        single_file(live_dir).unlink()
        assert judge(live_dir, live, "--first-n", "6", "--no-progress", *extra).returncode == 0
        live_bodies = sorted(json.dumps(r.body, sort_keys=True) for r in live.chat_requests)
    finally:
        live.stop()
    assert batch_bodies == live_bodies


def test_pairs_keep_both_games_in_one_batch(answers, server):
    # the scripted server answers with a rating, no pair verdict: every reply fails, so the gate is lifted
    result = judge(answers, server, "--batch", "--mode", "pairwise-all", "--first-n", "5", "--batch-size", "3",
                   "--max-failure-rate", "1", *FAST)
    assert result.returncode == 0, result.stderr
    records = rows(pair_file(answers))
    assert len(records) == 10 and {r["g1_winner"] for r in records} <= {"model_1", "model_2", "tie", "error"}
    for b in server.batches.values():
        ids = [json.loads(line)["custom_id"] for line in server.files[b["input_file_id"]].decode().splitlines()]
        assert sorted(i.rsplit("#", 1)[0] for i in ids if i.endswith("#g1")) == sorted(
            i.rsplit("#", 1)[0] for i in ids if i.endswith("#g2"))


def test_a_failed_batch_records_failures_and_retry_failed_rejudges_them_in_a_new_batch(answers, server):
    server.batch_ending = "failed"
    result = judge(answers, server, "--batch", "--first-n", "3", *FAST)
    assert result.returncode == 0, result.stderr
    records = rows(single_file(answers))
    assert len(records) == 12 and all(r["score"] is None and r["error"].startswith("batch failed (batch_0001)")
                                      for r in records)
    assert "12 x batch failed" in result.stdout
    server.batch_ending = "completed"
    assert judge(answers, server, "--batch", "--first-n", "3", *FAST).returncode == 0
    assert len(server.batch_creations) == 1  # failures are done: a plain rerun sends nothing
    again = judge(answers, server, "--batch", "--first-n", "3", "--retry-failed", *FAST)
    assert again.returncode == 0, again.stderr
    assert len(server.batch_creations) == 2 and server.batches["batch_0002"]["request_counts"]["total"] == 12
    latest = {k: r for r in rows(single_file(answers)) for k in [(r["question_id"], r["model"], r["turn"])]}
    assert len(latest) == 12 and {r["score"] for r in latest.values()} == {6}


def test_an_expired_batch_keeps_its_partial_results(answers, server):
    server.batch_ending, server.batch_partial = "expired", 5
    assert judge(answers, server, "--batch", "--first-n", "3", *FAST).returncode == 0
    records = rows(single_file(answers))
    assert len(records) == 12
    assert sum(r["score"] == 6 for r in records) == 5
    failed = [r for r in records if r["score"] is None]
    assert len(failed) == 7 and all("batch_expired in batch_0001" in r["error"] for r in failed)


def test_per_request_errors_in_the_error_file_become_failures_with_their_reason(answers, server):
    count = Counter()

    def responder(body):
        count["n"] += 1
        return error(400, "this prompt is refused") if count["n"] % 3 == 0 else "Rating: [[4]]"

    server.responder = responder
    assert judge(answers, server, "--batch", "--first-n", "3", *FAST).returncode == 0
    records = rows(single_file(answers))
    failed = [r for r in records if r["score"] is None]
    assert len(records) == 12 and len(failed) == 4
    assert all(r["error"] == "batch request failed (HTTP 400 in batch_0001): this prompt is refused" for r in failed)


def test_max_cost_applies_to_the_batch_price(answers, server, capsys, monkeypatch):
    from tests.test_judge import judge_in_process

    live = judge_in_process(answers, server, "--first-n", "3", "--dry-run", "--max-cost", "0.25")
    batch = judge_in_process(answers, server, "--first-n", "3", "--dry-run", "--max-cost", "0.25", "--batch")
    assert live[0] == 2 and "above --max-cost" in live[2]
    assert batch[0] == 0 and "the Batch API's price" in batch[1]
    priced = judge_in_process(answers, server, "--first-n", "3", "--dry-run", "--batch", "--judge-model", "x-judge",
                              "--batch-price-input", "1", "--batch-price-output", "2")
    assert priced[0] == 0 and "at $1 in / $2 out per 1M tokens, the Batch API's price" in priced[1]


# -- kill -9 at every step, then a rerun ------------------------------------------------------------------


def _killed_run(data_dir: Path, server, event: str, delay: float = 0.0) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    env["OPENAI_API_KEY"] = KEY
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtbench", "judge", "--data-dir", str(data_dir), "--judge-base-url",
         server.base_url, "--batch", "--first-n", "10", "--batch-size", "16", *FAST],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
    )
    fired = threading.Event()

    def on_event(name: str) -> None:
        if name == event and not fired.is_set():
            fired.set()
            threading.Timer(delay, lambda: os.kill(proc.pid, signal.SIGKILL)).start()

    server.on_event = on_event
    try:
        return proc.wait(timeout=60)
    finally:
        server.on_event = None


@pytest.mark.parametrize("event, delay", [
    ("upload", 0.0),  # before submit: the file is up, the batch not made
    ("batch_created", 0.0),  # after submit, before its id is saved
    ("poll", 0.0),  # while polling
    ("download", 0.0),  # results downloaded, none written
    *[("download", random.Random(seed).uniform(0.0, 0.08)) for seed in range(3)],  # while writing results
])
@pytest.mark.slow
def test_kill_at_any_step_then_rerun_gives_one_record_and_one_submission_per_match(answers, server, event, delay):
    code = _killed_run(answers, server, event, delay)
    in_flight = sidecar_path(single_file(answers)).exists()
    rerun = judge(answers, server, "--first-n", "10", *FAST)  # no --batch: batches in flight are resumed by default
    assert rerun.returncode == 0, rerun.stderr
    assert ("resumed, not submitted again" in rerun.stdout) == in_flight
    records = rows(single_file(answers))
    assert len(records) == 2 * 10 * 2 and set(keys(records).values()) == {1}, (code, Counter(keys(records).values()))
    submitted = Counter(server.submitted_custom_ids())
    assert len(submitted) == 40 and set(submitted.values()) == {1}
    assert not sidecar_path(single_file(answers)).exists()
    assert not server.chat_requests  # nothing was judged live


def test_killed_halfway_through_writing_a_batch_rerun_writes_only_the_rest(answers, server, tmp_path):
    """The state a kill leaves after 5 of a finished batch's records are written (the sidecar as it
    was at the download, the file cut after 5 records): the rerun writes the other matches once."""
    output = single_file(answers)
    saved = tmp_path / "sidecar.json"

    def keep_sidecar(name: str) -> None:
        if name == "download" and not saved.exists():
            saved.write_bytes(sidecar_path(output).read_bytes())

    server.on_event = keep_sidecar
    assert judge(answers, server, "--batch", "--first-n", "10", "--batch-size", "16", *FAST).returncode == 0
    server.on_event = None
    sidecar_path(output).write_bytes(saved.read_bytes())
    output.write_text("".join(output.read_text().splitlines(keepends=True)[:5]))
    rerun = judge(answers, server, "--first-n", "10", *FAST)
    assert rerun.returncode == 0, rerun.stderr
    records = rows(output)
    assert len(records) == 40 and set(keys(records).values()) == {1}
    assert set(Counter(server.submitted_custom_ids()).values()) == {1} and len(server.batch_creations) == 3


@pytest.mark.slow
def test_no_batch_judges_live_and_the_batch_in_flight_later_adds_no_second_record(answers, server):
    assert _killed_run(answers, server, "poll") == -signal.SIGKILL
    live = judge(answers, server, "--first-n", "10", "--no-batch", *FAST)
    assert live.returncode == 0, live.stderr
    assert len(server.chat_requests) == 40 and sidecar_path(single_file(answers)).exists()
    resumed = judge(answers, server, "--first-n", "10", *FAST)  # collects the batches, writes nothing new
    assert resumed.returncode == 0, resumed.stderr
    records = rows(single_file(answers))
    assert len(records) == 40 and set(keys(records).values()) == {1} and not any("batch_id" in r for r in records)
    assert not sidecar_path(single_file(answers)).exists()


@pytest.mark.slow
def test_a_match_whose_prompt_changed_while_its_batch_ran_is_judged_again_as_it_is_now(answers, server):
    assert _killed_run(answers, server, "poll") == -signal.SIGKILL
    path = answers / "mt_bench" / "model_answer" / "alpaca-13b.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["choices"][0]["turns"][0] = "an edited answer"
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    rerun = judge(answers, server, "--first-n", "10", *FAST)
    assert rerun.returncode == 0, rerun.stderr
    records = rows(single_file(answers))
    assert len(records) == 40 and set(keys(records).values()) == {1}
    edited = [r for r in records if r["model"] == "alpaca-13b" and r["question_id"] == first["question_id"]]
    assert len(edited) == 2 and all("an edited answer" in r["user_prompt"] for r in edited)
    assert {r["batch_id"] for r in edited} == {f"batch_{len(server.batches):04d}"}  # the new batch's
    sent = [json.loads(line)["body"]["messages"][-1]["content"] for line in
            server.files[server.batches[edited[0]["batch_id"]]["input_file_id"]].decode().splitlines()]
    assert len(sent) == 2 and all("an edited answer" in text for text in sent)
