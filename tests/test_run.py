"""`mtbench run` through the real CLI, against the scripted loopback server as both model and judge.

run must write what the separate commands write (gen-api-answer, judge, show by hand), resume after a
kill -9 in its judge step without redoing its answers, call nothing when rerun after it finished, and
refuse bad model flags in one line before any work.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests import cli
from tests.openai_server import OpenAITestServer, completion
from tests.test_judge import rows

MODEL = "scripted-model"
JUDGE = "judge-x"
VOLATILE = {"tstamp", "answer_id", "latency_s"}  # what differs between two runs of the same work


def reply(body: dict, judge_delay: float = 0.0):
    """A deterministic model and judge: the same request always gets the same reply."""
    last = body["messages"][-1]["content"]
    if body["model"] == JUDGE:
        return dataclasses.replace(completion(f"Judged. Rating: [[{len(last) % 10 + 1}]]", model=JUDGE),
                                   delay=judge_delay)
    return completion(f"An answer to: {last[:40]}", model=MODEL)


ENV = {"OPENAI_API_KEY": "sk-run-test", "OPENAI_BASE_URL": None}


def mtbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """In this process (tests/cli.py); the first test runs `run` as a real process, end to end."""
    return cli.mtbench(*args, cwd=cwd, env=ENV)


def run_args(data_dir: Path, server: OpenAITestServer, *more: str) -> list[str]:
    return ["run", "--model", MODEL, "--base-url", server.base_url, "--judge-base-url", server.base_url,
            "--judge-model", JUDGE, "--data-dir", str(data_dir), "--no-progress", *more]


def stable(records: list[dict]) -> list[dict]:
    """Records without what differs between two runs of the same work, in key order."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        return value
    return sorted((strip(r) for r in records), key=lambda r: (r["question_id"], r.get("turn", 0)))


def answer_file(data_dir: Path) -> Path:
    return data_dir / "mt_bench" / "model_answer" / f"{MODEL}.jsonl"


def judgment_file(data_dir: Path) -> Path:
    return data_dir / "mt_bench" / "model_judgment" / f"{JUDGE}_single.jsonl"


@pytest.mark.slow
def test_run_writes_what_the_separate_commands_write_and_a_rerun_calls_nothing(data_dir, tmp_path):
    by_hand = tmp_path / "by_hand"
    shutil.copytree(data_dir, by_hand)
    with OpenAITestServer(reply) as server:
        done = cli.mtbench_process(*run_args(data_dir, server, "--question-end", "6", "--parallel", "4",
                                             "--report", str(tmp_path / "report.html")), cwd=tmp_path, env=ENV)
        assert done.returncode == 0, done.stderr
        calls = len(server.chat_requests)
        assert calls == 6 * 2 * 2  # 6 questions x 2 turns, answered then judged

        steps = ["gen-api-answer", "--model", MODEL, "--base-url", server.base_url, "--parallel", "4",
                 "--question-end", "6", "--data-dir", str(by_hand), "--no-progress"]
        assert mtbench(*steps, cwd=tmp_path).returncode == 0
        judged = mtbench("judge", "--judge-base-url", server.base_url, "--judge-model", JUDGE, "--data-dir",
                         str(by_hand), "--no-progress", cwd=tmp_path)
        assert judged.returncode == 0, judged.stderr
        shown = mtbench("show", "--judge-model", JUDGE, "--data-dir", str(by_hand), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr

        server.requests.clear()
        again = mtbench(*run_args(data_dir, server, "--question-end", "6", "--parallel", "4"), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert server.requests == [], "a rerun of a finished run called the server"

    assert stable(rows(answer_file(data_dir))) == stable(rows(answer_file(by_hand)))
    assert stable(rows(judgment_file(data_dir))) == stable(rows(judgment_file(by_hand)))
    assert len(rows(judgment_file(data_dir))) == 12
    tables = shown.stdout.replace(str(by_hand), str(data_dir))
    assert tables and tables in done.stdout and tables in again.stdout  # the same tables, printed again
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("[")] == [
        "[1/5] download", "[2/5] answers", "[3/5] judge", "[4/5] show", "[5/5] report"]
    assert lines.index("plan:") < next(i for i, line in enumerate(lines) if line.startswith("[2/5]"))
    assert f"  judgments: {judgment_file(data_dir)}" in lines and f"  report: {tmp_path / 'report.html'}" in lines
    assert (tmp_path / "report.html").stat().st_size > 0
    assert "already answered" in again.stdout and "nothing to judge" in again.stdout
    assert "not judged" not in done.stdout  # --question-end 6 is judged as --first-n 6: no match planned past it
    assert "sk-run-test" not in done.stdout + done.stderr


@pytest.mark.slow
def test_killed_in_the_judge_step_a_rerun_judges_each_match_once_and_answers_nothing_again(data_dir, tmp_path):
    questions = 30
    with OpenAITestServer(lambda body: reply(body, judge_delay=0.05)) as server:
        args = run_args(data_dir, server, "--question-end", str(questions), "--parallel", "8", "--judge-parallel", "2")
        proc = subprocess.Popen(cli.mtbench_command(*args), env=cli.process_env(ENV), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not any(r.body["model"] == JUDGE for r in server.chat_requests) and time.monotonic() < deadline:
            assert proc.poll() is None, "run ended before its judge step"
            time.sleep(0.01)
        time.sleep(random.Random("run-kill").uniform(0.2, 0.5))
        assert proc.poll() is None, "the run ended before it could be killed; give it more work"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        judged_before = len(rows(judgment_file(data_dir)))
        assert 0 < judged_before < questions * 2, "the kill did not land in the judge step"
        answers_before = answer_file(data_dir).read_bytes()

        server.requests.clear()
        rerun = mtbench(*args, cwd=tmp_path)  # the kill needs a process; the rerun does not
        assert rerun.returncode == 0, rerun.stderr
        models_called = Counter(r.body["model"] for r in server.chat_requests)

    assert models_called[MODEL] == 0, "the rerun asked the model again"
    assert questions * 2 - judged_before <= models_called[JUDGE] <= questions * 2 - judged_before + 2
    assert answer_file(data_dir).read_bytes() == answers_before
    keys = Counter((r["question_id"], r["model"], r["turn"]) for r in rows(judgment_file(data_dir)))
    assert len(keys) == questions * 2 and set(keys.values()) == {1}, "a match is missing or written twice"
    assert "[2/4] answers: scripted-model: all 30 question(s) already answered" in rerun.stdout


@pytest.mark.parametrize("flags, message", [
    (["--model", MODEL, "--model-path", "/models/x"], "give --model-path (a local model) or --model (a served one), not both"),
    # neither model flag, with a judge: the demo brings its own judge, so this is a mistake
    ([], "--judge-base-url names a judge but no model is given: add --model-path PATH or --model NAME"),
    (["--model-path", "/nonexistent/model"], "--model-path /nonexistent/model: no such folder"),
    (["--model-path", "FILE"], "a file, not a model folder"),
    (["--model", MODEL], f"--model {MODEL} needs --base-url URL"),
])
def test_bad_model_flags_are_one_line_and_exit_2_before_any_work(tmp_path, flags, message):
    data_dir = tmp_path / "data"  # missing: any work would start with a download
    flags = [str(tmp_path / "weights.bin") if f == "FILE" else f for f in flags]
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with OpenAITestServer(reply) as server:
        done = mtbench("run", *flags, "--judge-base-url", server.base_url, "--data-dir", str(data_dir), cwd=tmp_path)
        assert server.requests == []
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and done.stderr.startswith("mtbench run: error:")
    assert not data_dir.exists()


def test_dry_run_and_max_cost_stop_at_the_plan_before_any_call(data_dir, tmp_path):
    with OpenAITestServer(reply) as server:
        dry = mtbench(*run_args(data_dir, server, "--question-end", "3", "--dry-run"), cwd=tmp_path)
        # gpt-4's price is known: 3 questions' judging at an upper bound of their answers' length
        capped = mtbench(*run_args(data_dir, server, "--question-end", "3", "--judge-model", "gpt-4",
                                   "--max-cost", "0.01"), cwd=tmp_path)
        assert server.requests == []
    assert dry.returncode == 0, dry.stderr
    assert "3 to generate" in dry.stdout and "API calls: 6" in dry.stdout and "dry run" in dry.stdout
    assert capped.returncode == 2
    assert capped.stderr.count("\n") == 1 and "above --max-cost" in capped.stderr
    assert "estimated cost: $" in capped.stdout
    assert not answer_file(data_dir).exists() and not judgment_file(data_dir).exists()


def test_a_renamed_judge_flag_is_named_as_run_spells_it(data_dir, tmp_path):
    done = mtbench("run", "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1", "--judge-parallel", "0",
                   "--data-dir", str(data_dir), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "mtbench run: error: --judge-parallel must be at least 1, got 0\n"


def test_a_flag_two_steps_add_is_refused_unless_renamed_or_shared():
    from mtbench.cli.run_steps import SHARED, STEPS, check_collisions

    check_collisions()  # run's own table builds
    api, judge = (next(s for s in STEPS if s.name == name) for name in ("api", "judge"))
    bare_judge = dataclasses.replace(judge, renames={})
    with pytest.raises(ValueError, match="is api's and judge's; declare it shared or rename it"):
        check_collisions((api, bare_judge))
    check_collisions((api, bare_judge), SHARED | {"--parallel", "--timeout", "--max-retries", "--max-tokens"})


def test_the_answer_step_is_read_as_values():
    """run reads the answer step's typed result: which models can be judged, and one line per model."""
    from mtbench.pipeline import AnswerStep, ModelAnswers

    api = ModelAnswers("a", Path("a.jsonl"), selected=3, skipped=1, answered=1, failed=1, elapsed_s=2.26,
                       tokens=(10, 20))
    local = ModelAnswers("c", Path("c.jsonl"), selected=2, answered=2, replicas=2)
    broken = ModelAnswers("b", Path("b.jsonl"), error="--model-path x: no such folder")
    done = ModelAnswers("d", Path("d.jsonl"), selected=5, skipped=5)
    assert AnswerStep((api, broken, local, done), exit_code=2).answered == ("a", "c", "d")
    assert api.describe() == ("a: 1 answered, 1 failed (1 already there) in 2.3s; tokens: 10 prompt, 20 completion "
                              "-> a.jsonl; rerun with --retry-failed to ask the failed ones again")
    assert local.describe() == "c: 2 answered, 0 failed (0 already there) on 2 replica(s) -> c.jsonl"
    assert broken.describe() == "b: error: --model-path x: no such folder"
    assert done.describe() == "d: all 5 question(s) already answered in d.jsonl"


def test_local_models_are_answered_by_gen_answer_a_broken_one_reported_the_others_judged(data_dir, tmp_path):
    from tests.models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny-chat")
    broken = tmp_path / "broken-chat"
    shutil.copytree(model, broken)
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with OpenAITestServer(reply) as server:
        done = mtbench("run", "--model-path", str(model), str(broken), "--device", "cpu", "--max-new-token", "4",
                       "--question-end", "2", "--judge-base-url", server.base_url, "--judge-model", JUDGE,
                       "--data-dir", str(data_dir), "--no-progress", cwd=tmp_path)
        judge_calls = len(server.chat_requests)
    assert done.returncode == 2, done.stderr  # the worst step's: a model that could not be loaded
    answers = rows(data_dir / "mt_bench" / "model_answer" / "tiny-chat.jsonl")
    assert [a["question_id"] for a in answers] == [81, 82] and answers[0]["engine"] == "hf"
    assert not (data_dir / "mt_bench" / "model_answer" / "broken-chat.jsonl").exists()
    assert judge_calls == 4 and {r["model"] for r in rows(judgment_file(data_dir))} == {"tiny-chat"}
    assert "[2/4] answers: tiny-chat: 2 answered, 0 failed (0 already there) on 1 replica(s)" in done.stdout
    assert "[2/4] answers: broken-chat: error: --model-path" in done.stdout
    assert "tiny-chat" in done.stdout.split("[4/4] show")[1]  # the tables, of the model that has answers
