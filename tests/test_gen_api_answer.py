"""`mtbench gen-api-answer` against the scripted OpenAI-compatible server on 127.0.0.1.

What goes over the wire (both turns, system prompt, temperatures, choices), what lands in the file
(FastChat's record, usage, failures as values), resume after a SIGKILL, and how bad endpoints stop a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.client import EndpointConfig, RetryPolicy
from mtbench.core.errors import RunFailed, UserError
from mtbench.core.record_files import load_answers, load_questions
from mtbench.core.records import Answer, Question, iter_jsonl
from mtbench.gen_api_answer import (
    ApiAnswerConfig,
    build_messages,
    default_model_id,
    generate_api_answers,
    question_temperature,
)
from tests.cli import mtbench, mtbench_command
from tests.helpers import free_port
from tests.openai_server import OpenAITestServer, Reply, completion, error

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-secret-gen-api-answer-4f1c9e"
FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def echo(body) -> str:
    """A reply that says which request it answers: how many messages it saw and the last user text."""
    return f"reply#{len(body['messages'])}: {body['messages'][-1]['content'][:40]}"


def config(server, data_dir: Path, **overrides) -> ApiAnswerConfig:
    settings = dict(
        layout=BenchLayout(data_dir=data_dir),
        model="test-model",
        model_id="test-model",
        endpoint=EndpointConfig(base_url=server.base_url, timeout=5.0, retry=FAST),
        progress=False,
    )
    settings.update(overrides)
    return ApiAnswerConfig(**settings)


def answer_lines(path: Path) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path)]


def cli(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return mtbench("gen-api-answer", *args, cwd=cwd, env={"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": None,
                                                         **(env_extra or {})})


# ---------------------------------------------------------------------------------------------------
# pure parts


def test_messages_carry_the_history_and_no_system_unless_asked():
    assert build_messages(None, ["q1"], []) == [{"role": "user", "content": "q1"}]
    assert build_messages(None, ["q1", "q2"], ["a1"]) == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    assert build_messages("Be brief.", ["q1"], [])[0] == {"role": "system", "content": "Be brief."}
    with pytest.raises(ValueError):
        build_messages(None, ["q1", "q2"], [])


def test_default_model_id_is_a_file_name():
    assert default_model_id("meta-llama/Llama-3-8B") == "meta-llama--Llama-3-8B"
    assert default_model_id("gpt-4o-mini") == "gpt-4o-mini"


def test_temperature_precedence():
    q = Question(question_id=1, category="math", turns=("x",))
    required = Question(question_id=2, category="math", turns=("x",), required_temperature=0.3)
    assert question_temperature(q, None) == 0.0
    assert question_temperature(required, None) == 0.3
    assert question_temperature(required, 0.9) == 0.9  # the explicit flag wins (FastChat asserts instead)


# ---------------------------------------------------------------------------------------------------
# over the wire


def test_both_turns_on_the_wire_and_the_record_written(openai_server, data_dir):
    openai_server.responder = lambda body: completion(echo(body), model="served/name", prompt_tokens=5,
                                                      completion_tokens=3)
    summary = generate_api_answers(config(openai_server, data_dir, question_end=3, max_tokens=77))
    questions = load_questions(data_dir / "mt_bench" / "question.jsonl")[:3]
    assert (summary.answered, summary.failed, summary.skipped) == (3, (), 0)

    by_question: dict[str, list[list[dict]]] = {}
    for request in openai_server.chat_requests:
        assert request.body["model"] == "test-model" and request.body["max_tokens"] == 77
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        by_question.setdefault(request.body["messages"][0]["content"], []).append(request.body["messages"])
    for q in questions:
        turn1, turn2 = by_question[q.turns[0]]
        assert turn1 == [{"role": "user", "content": q.turns[0]}]
        answer1 = echo({"messages": turn1})
        assert turn2 == [
            {"role": "user", "content": q.turns[0]},
            {"role": "assistant", "content": answer1},
            {"role": "user", "content": q.turns[1]},
        ]

    path = data_dir / "mt_bench" / "model_answer" / "test-model.jsonl"
    lines = answer_lines(path)
    assert [line["question_id"] for line in lines] == [81, 82, 83]
    for line, q in zip(lines, questions, strict=True):
        assert set(line) >= {"question_id", "answer_id", "model_id", "choices", "tstamp"}
        assert "error" not in line and len(line["answer_id"]) == 22 and line["model_id"] == "test-model"
        assert line["choices"] == [{"index": 0, "turns": [
            echo({"messages": [{"content": q.turns[0]}]}),
            echo({"messages": [{}, {}, {"content": q.turns[1]}]}),
        ]}]
        assert line["endpoint_model"] == "served/name" and line["api_model"] == "test-model"
        assert line["engine"] == "api"
        assert line["usage"]["prompt_tokens"] == 10 and line["usage"]["completion_tokens"] == 6
        assert line["usage"]["calls"] == 2 and line["finish_reasons"] == [["stop", "stop"]]
    assert not any(a.failed for a in load_answers(path).values())
    assert summary.truncated_turns == 0


def test_truncated_turns_are_counted(openai_server, data_dir):
    openai_server.enqueue(completion("cut sho", finish_reason="length"))
    openai_server.responder = echo
    summary = generate_api_answers(config(openai_server, data_dir, question_end=2))
    assert summary.truncated_turns == 1 and summary.answered == 2
    (first, _) = answer_lines(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert first["finish_reasons"] == [["length", "stop"]]


def test_system_prompt_goes_first_in_every_request(openai_server, data_dir):
    openai_server.responder = echo
    generate_api_answers(config(openai_server, data_dir, question_end=2, system_prompt="You are terse."))
    assert len(openai_server.chat_requests) == 4
    for request in openai_server.chat_requests:
        messages = request.body["messages"]
        assert messages[0] == {"role": "system", "content": "You are terse."}
        assert [m["role"] for m in messages[1:]] in (["user"], ["user", "assistant", "user"])


def write_questions(data_dir: Path, questions: list[dict]) -> None:
    path = data_dir / "mt_bench" / "question.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))


# FastChat's temperature_config, spelled out (spec 4.1) rather than read back from the code under test.
EXPECTED_TEMPERATURE = {
    "writing": 0.7, "roleplay": 0.7, "reasoning": 0.0, "math": 0.0, "coding": 0.0, "extraction": 0.0,
    "stem": 0.1, "humanities": 0.1, "arena-hard-200": 0.0, "some-new-category": 0.7,
}


def test_temperature_per_category_required_and_forced(openai_server, tmp_path):
    data_dir = tmp_path / "data"
    questions = [{"question_id": i, "category": c, "turns": [f"{c} one", f"{c} two"]}
                 for i, c in enumerate(EXPECTED_TEMPERATURE, 1)]
    questions.append({"question_id": 99, "category": "math", "turns": ["req one", "req two"],
                      "required_temperature": 0.42})
    write_questions(data_dir, questions)
    openai_server.responder = echo
    generate_api_answers(config(openai_server, data_dir, parallel=4))
    seen = {r.body["messages"][0]["content"]: r.body["temperature"] for r in openai_server.chat_requests}
    assert {c: seen[f"{c} one"] for c in EXPECTED_TEMPERATURE} == EXPECTED_TEMPERATURE
    assert seen["req one"] == 0.42
    assert len(openai_server.chat_requests) == 2 * len(questions)
    assert all(r.body["temperature"] == seen[r.body["messages"][0]["content"]] for r in openai_server.chat_requests)

    openai_server.requests.clear()
    generate_api_answers(config(openai_server, data_dir, model_id="forced", force_temperature=1.3))
    assert {r.body["temperature"] for r in openai_server.chat_requests} == {1.3}
    assert len(openai_server.chat_requests) == 2 * len(questions)


def test_num_choices_are_independent_conversations(openai_server, data_dir):
    counter = iter(range(1000))
    openai_server.responder = lambda body: f"sample {next(counter)}"
    generate_api_answers(config(openai_server, data_dir, question_end=1, num_choices=3))
    requests = openai_server.chat_requests
    assert len(requests) == 6
    (line,) = answer_lines(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert [c["index"] for c in line["choices"]] == [0, 1, 2]
    for choice, first, second in zip(line["choices"], requests[0::2], requests[1::2], strict=True):
        # each choice's turn 2 carries that choice's own turn-1 answer
        assert len(first.body["messages"]) == 1
        assert second.body["messages"][1] == {"role": "assistant", "content": choice["turns"][0]}
    assert len({c["turns"][0] for c in line["choices"]}) == 3


# ---------------------------------------------------------------------------------------------------
# resume


def test_resume_skips_answered_retries_failed_on_request_and_reorganizes(openai_server, data_dir):
    path = data_dir / "mt_bench" / "model_answer" / "test-model.jsonl"
    path.parent.mkdir(parents=True)

    def old(qid: int, **kw) -> str:
        record = {"question_id": qid, "answer_id": "old", "model_id": "test-model",
                  "choices": [{"index": 0, "turns": ["old 1", "old 2"]}], "tstamp": 1.0, **kw}
        return json.dumps(record) + "\n"

    # out of order, a duplicate (last wins), a refused request (a plain rerun keeps it; one the endpoint
    # never answered, a 500, it would ask again: tests/test_defects_27.py), and FastChat's $ERROR$ sentinel
    path.write_text(old(84) + old(82, answer_id="stale") + old(82) + old(83, error="turn 1: HTTP 400")
                    + old(85, choices=[{"index": 0, "turns": ["$ERROR$", "x"]}]) + old(84)[:-30])
    openai_server.responder = echo
    summary = generate_api_answers(config(openai_server, data_dir, question_end=6))
    asked = {r.body["messages"][0]["content"] for r in openai_server.chat_requests}
    questions = {q.question_id: q for q in load_questions(data_dir / "mt_bench" / "question.jsonl")}
    assert asked == {questions[81].turns[0], questions[86].turns[0]}
    assert (summary.answered, summary.skipped) == (2, 4)
    lines = answer_lines(path)
    assert [line["question_id"] for line in lines] == [81, 82, 83, 84, 85, 86]
    assert lines[1]["answer_id"] == "old" and lines[2]["error"] == "turn 1: HTTP 400"

    openai_server.requests.clear()
    summary = generate_api_answers(config(openai_server, data_dir, question_end=6, retry_failed=True))
    asked = {r.body["messages"][0]["content"] for r in openai_server.chat_requests}
    assert asked == {questions[83].turns[0], questions[85].turns[0]}
    answers = load_answers(path)
    assert sorted(answers) == [81, 82, 83, 84, 85, 86] and not any(a.failed for a in answers.values())
    assert len(answer_lines(path)) == 6


@pytest.mark.slow
def test_killed_run_resumes_with_every_question_exactly_once(openai_server, data_dir):
    openai_server.responder = echo
    openai_server.latency = 0.1
    args = ("--model", "org/killed", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
            "--question-end", "24", "--parallel", "3")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    env.update({"OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO)})
    proc = subprocess.Popen(mtbench_command("gen-api-answer", *args), cwd=data_dir.parent,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = data_dir / "mt_bench" / "model_answer" / "org--killed.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().count("\n") >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    before = {a.question_id for a in load_answers(path).values()}
    assert 5 <= len(before) < 24, "the kill should land mid-run"
    asked_first = len(openai_server.chat_requests)

    openai_server.latency = 0.0
    result = cli(*args, cwd=data_dir.parent)
    assert result.returncode == 0, result.stderr
    rerun = openai_server.chat_requests[asked_first:]
    questions = {q.turns[0]: q.question_id for q in load_questions(data_dir / "mt_bench" / "question.jsonl")}
    rerun_ids = {questions[r.body["messages"][0]["content"]] for r in rerun}
    assert not rerun_ids & before, "a question already on disk was asked again"
    assert rerun_ids | before == set(range(81, 105))
    lines = answer_lines(path)
    assert [line["question_id"] for line in lines] == list(range(81, 105))
    assert all(len(line["choices"][0]["turns"]) == 2 and "error" not in line for line in lines)


# ---------------------------------------------------------------------------------------------------
# faults


def test_transient_errors_are_retried_and_counted(openai_server, data_dir):
    openai_server.enqueue(error(500), error(503, headers={"Retry-After": "0"}), "first turn")
    openai_server.responder = echo
    summary = generate_api_answers(config(openai_server, data_dir, question_end=1))
    assert summary.answered == 1
    (line,) = answer_lines(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert line["choices"][0]["turns"][0] == "first turn"
    assert line["usage"]["attempts"] == 4 and line["usage"]["calls"] == 2


def test_a_failed_question_is_a_failure_record_with_only_completed_turns(openai_server, data_dir):
    questions = load_questions(data_dir / "mt_bench" / "question.jsonl")
    bad_turn2 = questions[1].turns[1]
    openai_server.responder = lambda body: (
        error(400, "context too long") if body["messages"][-1]["content"] == bad_turn2 else echo(body)
    )
    summary = generate_api_answers(config(openai_server, data_dir, question_end=3, parallel=2))
    assert summary.answered == 2 and [qid for qid, _ in summary.failed] == [82]
    answers = load_answers(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    failed = answers[82]
    assert failed.failed and failed.error.startswith("turn 2: HTTP 400") and "context too long" in failed.error
    assert failed.turns == (echo({"messages": [{"content": questions[1].turns[0]}]}),)
    assert "$ERROR$" not in (data_dir / "mt_bench" / "model_answer" / "test-model.jsonl").read_text()
    assert not answers[81].failed and not answers[83].failed


def test_first_question_failing_after_every_retry_stops_before_fanning_out(openai_server, data_dir):
    openai_server.responder = lambda body: error(500, "model crashed")
    with pytest.raises(RunFailed, match=r"question 81, the first of 20, failed: turn 1: HTTP 500.*model crashed"):
        generate_api_answers(config(openai_server, data_dir, question_end=20, parallel=8))
    assert len(openai_server.chat_requests) == FAST.max_retries + 1
    assert not (data_dir / "mt_bench" / "model_answer" / "test-model.jsonl").exists()


def test_a_rejected_model_name_on_the_first_question_stops_the_run(openai_server, data_dir):
    # transformers serve answers a model name it does not serve with a 400, not vLLM's 404
    openai_server.responder = lambda body: error(400, "Server is pinned to '/models/x'; requested 'y'")
    with pytest.raises(RunFailed, match=r"first of 10, failed: turn 1: HTTP 400.*pinned.*it lists scripted-model"):
        generate_api_answers(config(openai_server, data_dir, model="y", question_end=10, parallel=4))
    assert len(openai_server.chat_requests) == 1
    assert not (data_dir / "mt_bench" / "model_answer" / "test-model.jsonl").exists()


def test_endpoint_dying_mid_run_stops_after_a_streak(openai_server, data_dir):
    served = iter(range(10_000))
    openai_server.responder = lambda body: echo(body) if next(served) < 6 else error(502, "bad gateway")
    with pytest.raises(RunFailed, match=r"stopped: the last 3 questions failed at the endpoint \(last: turn \d: HTTP 502.*left for a rerun"):
        generate_api_answers(config(openai_server, data_dir, question_end=40, parallel=2))
    answers = load_answers(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    failed = [a for a in answers.values() if a.failed]
    assert len(failed) >= 3 and len(answers) < 12, "stopped early, with what finished written"
    assert all("HTTP 502" in a.error and "bad gateway" in a.error for a in failed)
    assert sorted(answers) == [line["question_id"] for line in
                               answer_lines(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")]


def test_bad_settings_are_user_errors(openai_server, data_dir, tmp_path):
    with pytest.raises(UserError, match="^parallel must be at least 1"):  # the library names fields, the CLI flags
        generate_api_answers(config(openai_server, data_dir, parallel=0))
    with pytest.raises(UserError, match="no such file.*mtbench download"):
        generate_api_answers(config(openai_server, tmp_path / "nowhere"))
    with pytest.raises(UserError, match="no questions in the slice"):
        generate_api_answers(config(openai_server, data_dir, question_begin=500))
    assert not openai_server.requests


# ---------------------------------------------------------------------------------------------------
# the CLI: exit codes, one-line errors, and the key kept out of everything


def assert_one_error_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("mtbench gen-api-answer: error: ")
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_cli_end_to_end_default_model_id_and_no_key_anywhere(openai_server, data_dir):
    openai_server.responder = echo
    result = cli("--model", "meta-llama/Llama-3-8B", "--base-url", openai_server.base_url,
                 "--data-dir", str(data_dir), "--question-end", "4", "--parallel", "4", cwd=data_dir.parent)
    assert result.returncode == 0, result.stderr
    path = data_dir / "mt_bench" / "model_answer" / "meta-llama--Llama-3-8B.jsonl"
    assert "4 answered, 0 failed" in result.stdout and str(path) in result.stdout
    assert [a.model_id for a in load_answers(path).values()] == ["meta-llama--Llama-3-8B"] * 4
    assert {r.body["model"] for r in openai_server.chat_requests} == {"meta-llama/Llama-3-8B"}
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in openai_server.requests)
    for text in (result.stdout, result.stderr, *(p.read_text() for p in data_dir.rglob("*") if p.is_file())):
        assert SECRET not in text

    again = cli("--model", "meta-llama/Llama-3-8B", "--base-url", openai_server.base_url,
                "--data-dir", str(data_dir), "--question-end", "4", cwd=data_dir.parent)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(openai_server.chat_requests) == 8


@pytest.mark.parametrize("status, needle", [(401, "the API key was refused"), (404, "not found")])
def test_cli_fatal_status_exits_1_with_one_line_after_one_request(openai_server, data_dir, status, needle):
    openai_server.responder = lambda body: error(status, f"Incorrect API key provided: {SECRET}")
    started = time.monotonic()
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
                 "--parallel", "8", cwd=data_dir.parent)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"HTTP {status}", needle, openai_server.base_url)
    assert SECRET not in result.stderr + result.stdout
    assert len(openai_server.chat_requests) == 1
    assert time.monotonic() - started < 20
    path = data_dir / "mt_bench" / "model_answer" / "m.jsonl"
    assert not path.exists() or SECRET not in path.read_text()


class RefusingModelsServer(OpenAITestServer):
    """An endpoint that checks the key on GET /models too, as the OpenAI API does."""

    async def _models(self, request):
        from aiohttp import web

        return web.json_response({"error": {"message": "invalid key"}}, status=401)


def test_cli_refused_key_stops_at_the_preflight(data_dir):
    with RefusingModelsServer(echo) as server:
        result = cli("--model", "m", "--base-url", server.base_url, "--data-dir", str(data_dir), cwd=data_dir.parent)
        assert result.returncode == 1
        assert_one_error_line(result.stderr, "HTTP 401", "the API key was refused")
        assert not server.chat_requests


def test_cli_unreachable_url_fails_fast_with_one_line(data_dir):
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    result = cli("--model", "m", "--base-url", url, "--data-dir", str(data_dir), "--parallel", "16",
                 cwd=data_dir.parent)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "cannot reach", url)
    assert time.monotonic() - started < 15
    assert not (data_dir / "mt_bench" / "model_answer" / "m.jsonl").exists()


def test_cli_flag_errors_exit_2(data_dir, openai_server):
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
                 "--num-choices", "0", cwd=data_dir.parent)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "--num-choices")
    result = cli("--model", "m", "--base-url", "localhost:8000", "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "http://")
    assert not openai_server.requests


def test_answers_round_trip_through_the_record_layer(openai_server, data_dir):
    openai_server.responder = echo
    generate_api_answers(config(openai_server, data_dir, question_end=2))
    path = data_dir / "mt_bench" / "model_answer" / "test-model.jsonl"
    for _, obj in iter_jsonl(path):
        assert Answer.from_json(obj).to_json() == obj


@pytest.mark.slow
def test_drops_and_hangs_are_retried(openai_server, data_dir):
    openai_server.enqueue(Reply(drop=True), Reply(delay=2.0, body=completion("late").body), "after faults")
    openai_server.responder = echo
    summary = generate_api_answers(config(
        openai_server, data_dir, question_end=1,
        endpoint=EndpointConfig(base_url=openai_server.base_url, timeout=0.5, retry=FAST),
    ))
    assert summary.answered == 1
    (line,) = answer_lines(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert line["choices"][0]["turns"][0] == "after faults"


def test_parallel_conversations_are_bounded(openai_server, data_dir):
    openai_server.responder = echo
    openai_server.latency = 0.05
    generate_api_answers(config(openai_server, data_dir, question_end=20, parallel=5))
    assert openai_server.max_in_flight == 5


def test_base_url_from_the_environment(openai_server, data_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    openai_server.responder = echo
    summary = generate_api_answers(config(openai_server, data_dir, question_end=1,
                                          endpoint=EndpointConfig(timeout=5.0, retry=FAST)))
    assert summary.answered == 1 and len(openai_server.chat_requests) == 2


def test_cli_base_url_without_scheme_or_host_names_the_flag(data_dir, openai_server):
    for url in ("localhost:8401", "http:///v1"):
        result = cli("--model", "m", "--base-url", url, "--data-dir", str(data_dir), cwd=data_dir.parent)
        assert result.returncode == 2
        assert_one_error_line(result.stderr, "--base-url must be an http:// or https:// URL with a host", url)
    result = cli("--model", "m", "--data-dir", str(data_dir), cwd=data_dir.parent,
                 env_extra={"OPENAI_BASE_URL": "localhost:8401"})
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "$OPENAI_BASE_URL must be")
    assert not openai_server.requests


@pytest.mark.parametrize("flag, value, needle", [
    ("--parallel", "0", "--parallel must be at least 1, got 0"),
    ("--timeout", "0", "--timeout must be"),
    ("--timeout", "nan", "--timeout must be"),
    ("--max-retries", "-1", "--max-retries must be 0 or more, got -1"),
    ("--max-tokens", "0", "--max-tokens must be at least 1, got 0"),
])
def test_cli_numeric_flags_are_checked_once_by_the_configs(data_dir, openai_server, flag, value, needle):
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
                 flag, value, cwd=data_dir.parent)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, needle)
    assert not openai_server.requests


def test_cli_empty_question_file_says_so(data_dir, openai_server):
    (data_dir / "mt_bench" / "question.jsonl").write_text("")
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert result.returncode == 2
    line = assert_one_error_line(result.stderr, "the question file has no questions")
    assert "None" not in line
    assert not openai_server.requests


def test_cli_read_only_answer_folder_is_one_line_before_any_call(data_dir, openai_server, small_disk):
    disk = small_disk(data_dir / "mt_bench" / "model_answer")
    disk.read_only()
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir), cwd=data_dir.parent)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "cannot write", "m.jsonl", "Read-only file system")
    assert not openai_server.requests, "refused before the preflight or any paid call"


def test_cli_full_disk_is_one_line_and_exit_1(data_dir, openai_server, small_disk):
    openai_server.responder = echo
    disk = small_disk(data_dir / "mt_bench" / "model_answer", size_kib=64)
    with contextlib.suppress(OSError):  # SmallDisk.fill's buffered close can itself hit ENOSPC
        disk.fill()
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
                 "--question-end", "3", cwd=data_dir.parent)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "m.jsonl: No space left on device")


def start(*args: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    env.update({"OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO)})
    return subprocess.Popen(mtbench_command("gen-api-answer", *args), cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_shards_on_one_answer_file_one_refused_nothing_lost(openai_server, data_dir):
    openai_server.responder = echo
    openai_server.latency = 0.1  # each shard takes 20 x 2 x 0.1 s: the other starts while it runs
    common = ("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir), "--no-progress")
    shards = [("--question-end", "20"), ("--question-begin", "20", "--parallel", "8")]
    runs = [start(*common, *shard, cwd=data_dir.parent) for shard in shards]
    outputs = [run.communicate(timeout=120) for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 2], outputs
    refused = next(i for i, run in enumerate(runs) if run.returncode == 2)
    line = assert_one_error_line(outputs[refused][1], "another mtbench gen-api-answer is writing")
    assert "m.jsonl" in line
    again = cli(*common, *shards[refused], cwd=data_dir.parent)
    assert again.returncode == 0, again.stderr
    lines = answer_lines(data_dir / "mt_bench" / "model_answer" / "m.jsonl")
    ids = [line["question_id"] for line in lines]
    assert len(ids) == 80 and ids == sorted(set(ids)), "80 answers, each exactly once, in order"
    assert not any(line.get("error") for line in lines)
    assert len(openai_server.chat_requests) == 160


@pytest.mark.slow
def test_two_identical_runs_pay_for_each_question_once(openai_server, data_dir):
    openai_server.responder = echo
    openai_server.latency = 0.2
    args = ("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir), "--parallel", "8",
            "--no-progress")
    runs = [start(*args, cwd=data_dir.parent) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert sorted(run.returncode for run in runs) == [0, 2], outputs
    again = cli(*args, cwd=data_dir.parent)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(load_answers(data_dir / "mt_bench" / "model_answer" / "m.jsonl")) == 80
    assert len(openai_server.chat_requests) == 160, "not 320: the second run was refused, not run twice"
