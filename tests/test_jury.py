"""A jury end to end: real HTTP judges on loopback with set behaviour, the real CLI, numbers checked by hand.

Judges: ``always8`` and ``always4`` (constant), ``noisy`` (a score from the prompt's length, so fixed per
match and checkable from the records alone), and pairwise judges with scripted verdicts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cli import mtbench, mtbench_command
from tests.conftest import REPO
from tests.helpers import lines as rows
from tests.openai_server import OpenAITestServer, error
from tests.test_judge import OFFICIAL, SMALL, add_answers

ENV = {"OPENAI_API_KEY": "sk-jury", "OPENAI_BASE_URL": None}


def noisy_score(body: dict) -> int:
    return len(body["messages"][1]["content"]) % 10 + 1


def by_model(body: dict) -> str:
    model = body["model"]
    if model == "always8":
        return "Fine.\n\nRating: [[8]]"
    if model == "always4":
        return "Weak.\n\nRating: [[4]]"
    return f"Rating: [[{noisy_score(body)}]]"


def judgment_file(data_dir: Path, judge: str, kind: str = "single") -> Path:
    return data_dir / "mt_bench" / "model_judgment" / f"{judge}_{kind}.jsonl"


def show_json(data_dir: Path, *args: str) -> dict:
    out = mtbench("show", "--data-dir", data_dir, "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture()
def answers(data_dir: Path) -> Path:
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in SMALL))
    return data_dir


def test_one_endpoint_jury_writes_a_file_per_judge_and_the_jury_mean(answers, openai_server):
    openai_server.responder = by_model
    out = mtbench("judge", "--data-dir", answers, "--judge-base-url", openai_server.base_url, "--judge-model",
                  "always8", "always4", "noisy", "--first-n", "2", "--no-progress", "--price-input", "1",
                  "--price-output", "2", env=ENV)
    assert out.returncode == 0, out.stderr
    # One plan for the jury: each judge's, then the total (3 judges x 3 models x 2 questions x 2 turns).
    assert out.stdout.startswith("jury: 3 judges")
    assert "jury total: 36 match(es) to judge, 36 calls" in out.stdout
    assert "jury: 36 judgment(s) written by 3 judge(s)" in out.stdout
    files = {j: rows(judgment_file(answers, j)) for j in ("always8", "always4", "noisy")}
    assert {j: len(r) for j, r in files.items()} == {"always8": 12, "always4": 12, "noisy": 12}
    assert {r["score"] for r in files["always8"]} == {8} and {r["judge"][0] for r in files["noisy"]} == {"noisy"}
    # Each request went to its own judge model; a judge's file is an ordinary one, shown by plain `show`.
    assert Counter(r.body["model"] for r in openai_server.chat_requests) == {"always8": 12, "always4": 12, "noisy": 12}
    assert show_json(answers, "--judge-model", "always4")["models"][0]["overall"] == 4.0

    # 4000 resamples: 3.7% of them draw one judge three times, 2.5% of the resamples 4 sd below that.
    got = show_json(answers, "--judge-model", "always8", "always4", "noisy", "--bootstrap", "4000")
    table = {row["model"]: row for row in got["models"]}
    for model in SMALL:
        noisy = [r["score"] for r in files["noisy"] if r["model"] == model]
        # By hand: every match's jury score is (8 + 4 + noisy) / 3, the model's the mean over its 4 matches.
        assert table[model]["score"] == pytest.approx(sum((8 + 4 + s) / 3 for s in noisy) / 4)
        assert (table[model]["judge:always8"], table[model]["judge:always4"]) == (8.0, 4.0)
        assert table[model]["judge:noisy"] == pytest.approx(sum(noisy) / 4)
        # Resampling the judges: a resample drawing always4 three times ((1/3)^3 = 3.7% > 2.5%) is 4.0 whatever
        # the questions, one drawing always8 three times 8.0: the 95% interval reaches both.
        assert table[model]["ci_low"] <= 4.0 and table[model]["ci_high"] >= 8.0
    # The two constant judges alone: 6.0 on every match; (A, A), (A, B), (B, B) drawn 1/4, 1/2, 1/4 -> [4, 8].
    pair = show_json(answers, "--judge-model", "always8", "always4", "--bootstrap", "400")
    assert {(r["score"], r["ci_low"], r["ci_high"]) for r in pair["models"]} == {(6.0, 4.0, 8.0)}
    # Two judges never vary: they tell no answer from another, so one independent judge is left.
    assert got["agreement"]["effective_judges"] == 1.0 and got["agreement"]["units"] == 12
    assert got["agreement"]["krippendorff_alpha_ordinal"] < 0  # 8 and 4 on every match: worse than chance

    again = mtbench("judge", "--data-dir", answers, "--judge-base-url", openai_server.base_url, "--judge-model",
                    "always8", "always4", "noisy", "--first-n", "2", "--no-progress", env=ENV)
    assert again.returncode == 0 and "nothing to judge: every judge's file holds every match" in again.stdout
    assert len(openai_server.chat_requests) == 36


def jury_file(tmp_path: Path, *judges: str) -> Path:
    path = tmp_path / "jury.toml"
    path.write_text("\n".join(judges))
    return path


def test_jury_file_judges_on_their_own_endpoints(answers, tmp_path):
    with OpenAITestServer(lambda body: "Rating: [[8]]") as eight, \
            OpenAITestServer(lambda body: "Rating: [[4]]") as four, \
            OpenAITestServer(lambda body: f"Rating: [[{noisy_score(body)}]]") as noisy:
        jury = jury_file(
            tmp_path,
            f'[[judge]]\nname = "judge-a"\nbase_url = "{eight.base_url}"\nprice_input = 1.0\nprice_output = 2.0\n',
            f'[[judge]]\nname = "org/judge-b"\nbase_url = "{four.base_url}"\napi_key_env = "KEY_B"\n'
            'extra_body = { reasoning_effort = "low" }\nparallel = 2\n',
            f'[[judge]]\nname = "judge-c"\nbase_url = "{noisy.base_url}"\n',
        )
        out = mtbench("judge", "--data-dir", answers, "--jury", jury, "--first-n", "2", "--model-list", "llama-13b",
                      "--no-progress", env={**ENV, "KEY_B": "sk-b"})
        assert out.returncode == 0, out.stderr
        assert [len(s.chat_requests) for s in (eight, four, noisy)] == [4, 4, 4]
        # Each judge's own key and request fields reach only its own endpoint.
        assert {r.headers["Authorization"] for r in four.chat_requests} == {"Bearer sk-b"}
        assert {r.headers["Authorization"] for r in eight.chat_requests} == {"Bearer sk-jury"}
        assert {r.body.get("reasoning_effort") for r in four.chat_requests} == {"low"}
        assert {r.body.get("reasoning_effort") for r in eight.chat_requests} == {None}
    # A served name with '/' is a file name as for one judge: org__judge-b_single.jsonl.
    assert len(rows(judgment_file(answers, "org__judge-b"))) == 4
    got = show_json(answers, "--jury", jury, "--bootstrap", "0")
    assert got["judges"] == ["judge-a", "org/judge-b", "judge-c"]
    noisy_scores = [r["score"] for r in rows(judgment_file(answers, "judge-c"))]
    assert got["models"][0]["score"] == pytest.approx(sum((12 + s) / 3 for s in noisy_scores) / 4)


def test_a_failing_judge_stops_alone_and_resumes(answers, tmp_path):
    with OpenAITestServer(lambda body: "Rating: [[8]]") as good, OpenAITestServer(lambda body: error(500)) as bad:
        jury = jury_file(tmp_path, f'[[judge]]\nname = "good"\nbase_url = "{good.base_url}"\n',
                         f'[[judge]]\nname = "bad"\nbase_url = "{bad.base_url}"\n')
        args = ("judge", "--data-dir", answers, "--jury", jury, "--first-n", "2", "--no-progress",
                "--max-retries", "0")
        out = mtbench(*args, env=ENV)
        assert out.returncode == 1
        assert "judge bad: " in out.stderr and "failed" in out.stderr
        assert len(rows(judgment_file(answers, "good"))) == 12  # the good judge finished its work
        assert not judgment_file(answers, "bad").exists()
        bad.responder = lambda body: "Rating: [[2]]"
        again = mtbench(*args, env=ENV)
        assert again.returncode == 0, again.stderr
        assert len(good.chat_requests) == 12  # nothing judged twice
    assert len(rows(judgment_file(answers, "bad"))) == 12


def test_a_judge_without_a_verdict_is_left_out_of_the_match_and_counted(answers, openai_server):
    calls = Counter()

    def responder(body):
        calls[body["model"]] += 1
        if body["model"] == "mute" and calls["mute"] % 2:  # every other reply has no verdict
            return "I cannot decide."
        return by_model(body) if body["model"] == "always8" else f"Rating: [[{noisy_score(body)}]]"

    openai_server.responder = responder
    out = mtbench("judge", "--data-dir", answers, "--judge-base-url", openai_server.base_url, "--judge-model",
                  "always8", "mute", "--first-n", "2", "--model-list", "llama-13b", "--no-progress", env=ENV)
    assert out.returncode == 0, out.stderr
    mute = {(r["question_id"], r["turn"]): r["score"] for r in rows(judgment_file(answers, "mute"))}
    failed = sum(s is None for s in mute.values())
    assert failed == 2
    got = show_json(answers, "--judge-model", "always8", "mute", "--bootstrap", "0")
    row = got["models"][0]
    # By hand: matches mute scored are (8 + noisy) / 2, the others only always8's 8.
    expected = [(8 + s) / 2 if s is not None else 8.0 for s in mute.values()]
    assert row["score"] == pytest.approx(sum(expected) / 4)
    assert row["judge_failed"] == 2 and got["judge_failed"] == {"always8": 0, "mute": 2}
    assert any("mute 2" in note for note in got["notes"])


def test_pairwise_jury_majority_verdict(answers, openai_server):
    def responder(body):  # a says A always, b says B always, c says A: the majority is A (model_1 in game 1)
        verdict = {"judge-a": "[[A]]", "judge-b": "[[B]]", "judge-c": "[[A]]"}[body["model"]]
        return f"Verdict: {verdict}"

    openai_server.responder = responder
    out = mtbench("judge", "--data-dir", answers, "--judge-base-url", openai_server.base_url, "--judge-model",
                  "judge-a", "judge-b", "judge-c", "--mode", "pairwise-baseline", "--baseline-model", "llama-13b",
                  "--first-n", "2", "--no-progress", env=ENV)
    assert out.returncode == 0, out.stderr
    got = show_json(answers, "--judge-model", "judge-a", "judge-b", "judge-c", "--mode", "pairwise-baseline",
                    "--baseline-model", "llama-13b", "--bootstrap", "0")
    # Each judge says "A" in both position-swapped games: the games disagree, so each judge's match is a tie;
    # the jury's verdict of three ties is a tie, and the kappa is undefined (one category only).
    for row in got["models"]:
        assert (row["win"], row["loss"], row["tie"]) == (0, 0, 4)
        assert row["win_rate_adjusted"] == 0.5
    assert got["agreement"]["fleiss_kappa"] is None


@pytest.mark.parametrize("text, message", [
    ('[[judge]]\nname = "a"\n', "a jury needs at least two [[judge]] tables, got 1"),
    ('[[judge]]\nname = "a"\n[[judge]]\nnme = "b"\n', "judge 2: unknown key 'nme'"),
    ('[[judge]]\nname = "a"\n[[judge]]\nname = "a"\n', "judge 2: name 'a' is judge 1's too"),
    ('[[judge]]\nname = "a"\nprice_input = -1\n[[judge]]\nname = "b"\n', "judge 1: price_input must be"),
    ('[[judge]]\nname = "a"\nbase_url = "ftp://x"\n[[judge]]\nname = "b"\n', "judge 1 (a): base_url"),
    ('[[judge]\nname = "a"\n', "not valid TOML"),
])
def test_a_bad_jury_file_is_one_line_naming_file_and_key(answers, tmp_path, text, message):
    path = jury_file(tmp_path, text)
    out = mtbench("judge", "--data-dir", answers, "--jury", path, env=ENV)
    assert out.returncode == 2
    assert str(path) in out.stderr and message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_judge_model_and_jury_together_are_refused(answers, tmp_path):
    path = jury_file(tmp_path, '[[judge]]\nname = "a"\n[[judge]]\nname = "b"\n')
    out = mtbench("judge", "--data-dir", answers, "--jury", path, "--judge-model", "x", "y", env=ENV)
    assert out.returncode == 2 and "--judge-model and --jury both name the judges" in out.stderr


@pytest.mark.slow
def test_killed_jury_run_reruns_to_every_judges_match_exactly_once(answers):
    judges = ("always8", "always4", "noisy")
    env = {**os.environ, "OPENAI_API_KEY": "sk-kill"}
    env.pop("OPENAI_BASE_URL", None)
    with OpenAITestServer(by_model, latency=0.03) as server:
        command = mtbench_command("judge", "--data-dir", answers, "--judge-base-url", server.base_url,
                                  "--judge-model", *judges, "--first-n", "10", "--parallel", "4", "--no-progress")
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(server.chat_requests) < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = {j: len(rows(judgment_file(answers, j))) for j in judges if judgment_file(answers, j).exists()}
        assert sum(before.values()) < 180  # killed mid-run
        final = mtbench(*command[3:], env={"OPENAI_API_KEY": "sk-kill", "OPENAI_BASE_URL": None})
        assert final.returncode == 0, final.stderr
    for judge in judges:
        keys = Counter((r["question_id"], r["model"], r["turn"]) for r in rows(judgment_file(answers, judge)))
        assert len(keys) == 60 and set(keys.values()) == {1}, judge


def test_run_with_a_jury_file_answers_once_and_shows_the_jury(answers, tmp_path):
    def reply(body):
        if body["model"] == "my-model":
            return "An answer."
        return by_model(body)

    with OpenAITestServer(reply) as server:
        jury = jury_file(tmp_path, f'[[judge]]\nname = "always8"\nbase_url = "{server.base_url}"\n',
                         f'[[judge]]\nname = "always4"\nbase_url = "{server.base_url}"\n')
        out = mtbench("run", "--model", "my-model", "--base-url", server.base_url, "--jury", jury, "--data-dir",
                      answers, "--question-end", "2", "--no-progress", "--bootstrap", "0", "--report", "r.html",
                      env=ENV, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "jury total: 8 match(es) to judge, 8 calls" in out.stdout  # 2 judges x 2 questions x 2 turns
        assert "jury score" in out.stdout and "judge:always8" in out.stdout
        assert Counter(r.body["model"] for r in server.chat_requests) == {"my-model": 4, "always8": 4, "always4": 4}
    assert len(rows(judgment_file(answers, "always8"))) == len(rows(judgment_file(answers, "always4"))) == 4
    # --report passes the jury through: the page is the jury's (6.00 = (8 + 4) / 2), not the first judge's.
    page = (tmp_path / "r.html").read_text()
    assert "jury always8, always4, single" in page and '<table id="jury">' in page
    assert "<td>my-model</td><td>6.00</td><td>-</td><td>8.00</td><td>4.00</td>" in page
