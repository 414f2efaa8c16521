"""The one-line defects of issue 27 (items 2-7), each through the real CLI on real files.

Item 1 (turn-1 replies kept across a kill) is tests/test_partial_turns.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import make_browse_data, make_data_dir
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS, REPO

SONNET = "claude-3-5-sonnet-20240620"


def env(**more: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    return {**out, "OPENAI_API_KEY": "sk-defects-test", "PYTHONPATH": str(REPO), **more}


def mtbench(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mtbench", *args], cwd=cwd or REPO, env=env(), capture_output=True,
                          text=True, timeout=timeout)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Path:
    """A data dir with answers and gpt-4 judgments of the reference runs."""
    return make_browse_data(make_data_dir(tmp_path_factory.mktemp("judged"), MT_BENCH_DATA), REFERENCE_RUNS)


# ---------------------------------------------------------------------------------------------------
# item 2: a full disk at the report step is exit 1 and leaves no temp file


@pytest.mark.slow
def test_report_on_a_full_disk_is_exit_1_naming_the_file_and_leaves_no_temp_file(judged, tmp_path, small_disk):
    disk = small_disk(tmp_path / "full", size_kib=300)
    (disk.path / "filler").write_bytes(b"\0" * 250 * 1024)
    out = disk.path / "r.html"
    result = mtbench("report", "--data-dir", str(judged), "--out", str(out), "--model-list", SONNET,
                     "--bootstrap", "0")
    assert result.returncode == 1, result.stderr
    line = one_line(result)
    assert str(out) in line and "No space left on device" in line
    assert sorted(p.name for p in disk.path.iterdir()) == ["filler"], "a temp file was left behind"


@pytest.mark.slow
def test_run_report_on_a_full_disk_is_exit_1_and_leaves_no_temp_file(data_dir, tmp_path, small_disk):
    from tests.openai_server import OpenAITestServer
    from tests.test_run import reply, run_args

    disk = small_disk(tmp_path / "full", size_kib=300)
    (disk.path / "filler").write_bytes(b"\0" * 250 * 1024)
    out = disk.path / "r.html"
    with OpenAITestServer(reply) as server:
        result = mtbench(*run_args(data_dir, server, "--question-end", "2", "--report", str(out)), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"{out}: No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in disk.path.iterdir()) == ["filler"], "a temp file was left behind"


# ---------------------------------------------------------------------------------------------------
# item 3: `mtbench run` refused by another writer says so before its plan


@pytest.mark.parametrize("held", ["answers", "judgments"])
@pytest.mark.slow
def test_run_refused_by_another_writer_prints_only_the_refusal(data_dir, tmp_path, held):
    from mtbench.core.jsonl import exclusive_output
    from tests.openai_server import OpenAITestServer
    from tests.test_run import answer_file, judgment_file, reply, run_args

    path = answer_file(data_dir) if held == "answers" else judgment_file(data_dir)
    command = "gen-api-answer" if held == "answers" else "judge"
    with OpenAITestServer(reply) as server, exclusive_output(path, command):
        result = mtbench(*run_args(data_dir, server, "--question-end", "2"), cwd=tmp_path)
        assert server.chat_requests == []
    assert result.returncode == 2, result.stderr
    assert result.stdout == "", "the plan was printed before the refusal"
    assert f"another mtbench {command} is writing {path}" in one_line(result)


# ---------------------------------------------------------------------------------------------------
# item 4: a Ray address nobody answers is one line, with no progress bar before it


@pytest.mark.slow
def test_an_unreachable_ray_address_draws_no_progress_before_its_line(data_dir):
    result = mtbench("gen-answer", "--model-path", "org/model", "--model-id", "m", "--data-dir", str(data_dir),
                     "--question-end", "8", "--ray-address", "nohost:1", "--device", "cpu")  # progress on
    assert result.returncode == 2, result.stderr
    assert "0/8" not in result.stderr and "gen-answer:" not in result.stderr.replace("mtbench gen-answer:", "")
    assert "--ray-address nohost:1: no Ray cluster answers there" in one_line(result)
    assert not (data_dir / "mt_bench" / "model_answer" / "m.jsonl").exists()


# ---------------------------------------------------------------------------------------------------
# item 5: an empty answer file is said as it is, exit 2


@pytest.mark.parametrize("named", [True, False])
@pytest.mark.slow
def test_an_empty_answer_file_is_one_true_line_and_exit_2(data_dir, named):
    from tests.openai_server import OpenAITestServer

    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True, exist_ok=True)
    (answers / "m1.jsonl").write_text("\n")  # a file with no answer in it
    with OpenAITestServer(lambda body: "Rating: [[5]]") as server:
        result = mtbench("judge", "--judge-base-url", server.base_url, "--judge-model", "judge-x", "--data-dir",
                         str(data_dir), "--no-progress", *(["--model-list", "m1"] if named else []))
        assert server.chat_requests == []
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no answers to judge for m1: its answer file {answers / 'm1.jsonl'} is empty" in one_line(result)
    assert "not judged" not in result.stdout and "already in the output file" not in result.stdout
    assert not (data_dir / "mt_bench" / "model_judgment" / "judge-x_single.jsonl").exists()


# ---------------------------------------------------------------------------------------------------
# item 6: a disk that fills while judging names the file being written


def write_answers(data_dir: Path, model: str, question_ids: list[int]) -> None:
    folder = data_dir / "mt_bench" / "model_answer"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"question_id": q, "answer_id": f"a{q}", "model_id": model, "tstamp": 0.0,
                         "choices": [{"index": 0, "turns": [f"answer {q} one", f"answer {q} two"]}]})
             for q in question_ids]
    (folder / f"{model}.jsonl").write_text("".join(line + "\n" for line in lines))


@pytest.mark.slow
def test_a_full_disk_while_judging_names_the_judgment_file(data_dir, small_disk):
    from tests.openai_server import OpenAITestServer

    write_answers(data_dir, "m1", [81, 82])
    disk = small_disk(data_dir / "mt_bench" / "model_judgment", size_kib=64)
    disk.fill()
    with OpenAITestServer(lambda body: "Fine. Rating: [[5]]") as server:
        result = mtbench("judge", "--judge-base-url", server.base_url, "--judge-model", "judge-x", "--data-dir",
                         str(data_dir), "--model-list", "m1", "--no-progress")
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"{disk.path / 'judge-x_single.jsonl'}: No space left on device" in line, result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------------
# item 7: what was left from the last round


def test_answers_the_endpoint_never_gave_are_asked_again_by_a_plain_rerun_a_refused_one_is_not(
        openai_server, data_dir, monkeypatch):
    from mtbench.core.record_files import load_answers, load_questions
    from mtbench.gen_api_answer import generate_api_answers
    from tests.openai_server import error
    from tests.test_gen_api_answer import config, echo

    monkeypatch.setenv("OPENAI_API_KEY", "sk-defects-test")
    questions = load_questions(data_dir / "mt_bench" / "question.jsonl")
    down, refused = questions[1].turns[1], questions[2].turns[1]  # 82's turn 2: 502s; 83's turn 2: a 400
    openai_server.responder = lambda body: (error(502, "bad gateway") if body["messages"][-1]["content"] == down
                                            else error(400, "too long") if body["messages"][-1]["content"] == refused
                                            else echo(body))
    first = generate_api_answers(config(openai_server, data_dir, question_end=3))
    assert sorted(qid for qid, _ in first.failed) == [82, 83] and first.unreached == 1
    assert "--retry-failed for the others" in first.retry_hint
    asked = len(openai_server.chat_requests)

    openai_server.responder = echo  # the endpoint is back
    again = generate_api_answers(config(openai_server, data_dir, question_end=3))
    sent = openai_server.chat_requests[asked:]
    assert [r.body["messages"][-1]["content"] for r in sent] == [down], "only 82's turn 2, asked again"
    assert again.skipped == 2 and again.answered == 1
    answers = load_answers(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert not answers[82].failed and answers[83].failed and answers[83].error.startswith("turn 2: HTTP 400")


@pytest.mark.slow
def test_the_cost_estimate_says_where_its_reply_length_comes_from(data_dir):
    from tests.openai_server import OpenAITestServer, completion

    write_answers(data_dir, "m1", [81, 82, 83])

    def dry(judge: str, *more: str) -> str:
        result = mtbench("judge", "--judge-base-url", server.base_url, "--judge-model", judge, "--data-dir",
                         str(data_dir), "--model-list", "m1", "--dry-run", "--price-input", "1", "--price-output",
                         "10", *more)
        assert result.returncode == 0, result.stderr
        return result.stdout

    with OpenAITestServer(lambda body: completion("Thought long. Rating: [[6]]", completion_tokens=900,
                                                  model=body["model"])) as server:
        # 6 matches, no reply seen yet: a reasoning judge may write all of --max-tokens, a plain one a short reply
        assert "+ 24,576 out (4096 per call: --max-tokens 4096: a reasoning judge may use it all)" in dry(
            "o3-mini", "--max-tokens", "4096")
        assert "+ 1,500 out (250 per call: a short reply assumed)" in dry("judge-x")
        reasoning_flag = dry("judge-x", "--judge-extra-body", '{"reasoning_effort": "high"}')
        assert "(2048 per call: --max-tokens 2048" in reasoning_flag
        # replies on disk: their mean (900) for what is left (4 of the 6 matches)
        done = mtbench("judge", "--judge-base-url", server.base_url, "--judge-model", "judge-x", "--data-dir",
                       str(data_dir), "--model-list", "m1", "--first-n", "1", "--no-progress")
        assert done.returncode == 0, done.stderr
        assert "+ 3,600 out (900 per call: the mean of the 2 replies in the output file)" in dry("judge-x")


@pytest.mark.slow
def test_a_local_judges_summary_says_what_it_did(tmp_path):
    from tests.test_local_judge import chain_judge, judge_args, make_data

    judge = chain_judge(tmp_path, {"assistant": "[[3]]", "[[3]]": "<|im_end|>"})
    data = make_data(tmp_path, "alpaca-13b")
    done = mtbench(*judge_args(data, "--first-n", "1", "--max-tokens", "8", "--judge-model-path", str(judge),
                               "--judge-model", "chained"))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = next(line for line in done.stdout.splitlines() if line.startswith("judged "))
    assert "2 generation(s) by the local judge" in summary and "no API calls and no cost" in summary
    assert "API calls:" not in done.stdout and "$" not in summary


def test_show_compare_of_a_model_with_itself_is_refused(judged):
    result = mtbench("show", "--data-dir", str(judged), "--compare", SONNET, SONNET)
    assert result.returncode == 2 and result.stdout == ""
    assert f"--compare {SONNET} {SONNET}: a model against itself" in one_line(result)
    assert "+0.00" not in result.stdout
