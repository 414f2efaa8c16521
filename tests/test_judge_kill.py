"""SIGKILL `mtbench judge` mid-run, several times, then let it finish: every match is on disk exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest

from tests.cli import mtbench, mtbench_command
from tests.conftest import REPO
from tests.openai_server import OpenAITestServer
from tests.test_judge import OFFICIAL, SMALL, add_answers, rows

KILLS = 3


def kill_once_calling(command, server, env, rng, wait_s: tuple[float, float]):
    """Start ``command``, wait until it is calling ``server``, SIGKILL it a random moment later."""
    seen = len(server.chat_requests)
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.chat_requests) == seen and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(rng.uniform(*wait_s))
    assert proc.poll() is None, "the run ended before it could be killed; give it more work"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def command(data_dir, server, mode, first_n):
    return mtbench_command("judge", "--data-dir", data_dir, "--judge-base-url", server.base_url, "--mode", mode,
                           "--first-n", str(first_n), "--parallel", "8", "--no-progress")


@pytest.mark.parametrize("mode, first_n, matches", [("single", 80, 480), ("pairwise-all", 20, 120)])
@pytest.mark.slow
def test_killed_runs_finish_with_every_match_exactly_once(data_dir, mode, first_n, matches):
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))
    env = {**os.environ, "OPENAI_API_KEY": "sk-kill-test"}
    env.pop("OPENAI_BASE_URL", None)
    rng = random.Random(f"kill:{mode}")
    reply = "Rating: [[6]]" if mode == "single" else "Fair comparison. [[C]]"
    calls_per_match = 1 if mode == "single" else 2
    out_file = data_dir / "mt_bench" / "model_judgment" / ("gpt-4_single.jsonl" if mode == "single" else "gpt-4_pair.jsonl")
    with OpenAITestServer(lambda body: reply, latency=0.05) as server:
        for _ in range(KILLS):
            kill_once_calling(command(data_dir, server, mode, first_n), server, env, rng, (0.0, 0.6))
        lines_after_kills = len(rows(out_file)) if out_file.exists() else 0
        assert 0 < lines_after_kills < matches  # the kills landed mid-run
        # the kills need a process; the run that finishes the work does not
        final = mtbench(*command(data_dir, server, mode, first_n)[3:],
                        env={"OPENAI_API_KEY": "sk-kill-test", "OPENAI_BASE_URL": None})
        assert final.returncode == 0, final.stderr
        total_calls = len(server.chat_requests)
    records = rows(out_file)  # also proves no torn line is left: every line parses
    if mode == "single":
        keys = Counter((r["question_id"], r["model"], r["turn"]) for r in records)
        assert all(r["score"] == 6 for r in records)
    else:
        keys = Counter((r["question_id"], r["model_1"], r["model_2"], r["turn"]) for r in records)
        assert all((r["g1_winner"], r["g2_winner"]) == ("tie", "tie") for r in records)
    assert len(keys) == matches and set(keys.values()) == {1}, "a match is missing or written twice"
    # Only calls in flight at a kill were lost and made again: at most --parallel per kill.
    assert matches * calls_per_match <= total_calls <= matches * calls_per_match + KILLS * 8 * calls_per_match
    assert "nothing to judge" not in final.stdout


@pytest.mark.slow
def test_a_run_started_while_another_is_running_never_judges_twice(data_dir):
    """Issue 11.2: run B plans while run A is judging, then A finishes before B starts calling. B must not
    judge from its stale plan: it is refused (exit 2, one line) before it reads or plans anything."""
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    env = {**os.environ, "OPENAI_API_KEY": "sk-lock-test"}
    env.pop("OPENAI_BASE_URL", None)
    out_file = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    # A's first reply waits at a gate until B has planned or exited: A is judging while B starts, however slowly
    # B starts on a loaded machine.
    gate = threading.Event()

    def reply(body):
        gate.wait(120)
        return "Rating: [[6]]"

    with OpenAITestServer(reply) as server:
        cmd = [*command(data_dir, server, "single", 10), "--parallel", "1"]
        a = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not server.chat_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert a.poll() is None
        b = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert b.stdout is not None
        planned = any(line.startswith("output:") for line in b.stdout)  # the plan's last line, or B's exit
        if planned:
            # B printed a plan while A runs: hold B there until A is done, as the reproduction does.
            os.kill(b.pid, signal.SIGSTOP)
            gate.set()
            assert a.wait(60) == 0
            os.kill(b.pid, signal.SIGCONT)
        gate.set()
        _, b_err = b.communicate(timeout=60)
        assert a.wait(60) == 0
        calls = len(server.chat_requests)
    keys = Counter((r["question_id"], r["model"], r["turn"]) for r in rows(out_file))
    assert len(keys) == 20 and set(keys.values()) == {1}, "a match was judged twice"
    assert calls == 20
    assert not planned and b.returncode == 2
    assert b_err.count("\n") == 1 and "another mtbench judge is writing" in b_err
