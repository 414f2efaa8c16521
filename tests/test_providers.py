"""`--api azure` / `--judge-api azure`: the Azure OpenAI request shape on the wire (issue 26, part 5).

A loopback server stands in for the Azure resource; the real CLI drives the openai SDK's Azure client.
What Azure needs is checked where it arrives: the deployment in the path, ``api-version`` in the query,
the key in an ``api-key`` header (never a bearer token), and the key in no file the run wrote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli import mtbench
from tests.conftest import REFERENCE_RUNS

KEY = "azure-key-SECRET-91f2"
NO_ENV = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "AZURE_OPENAI_ENDPOINT": None,
          "AZURE_OPENAI_API_VERSION": None, "OPENAI_API_VERSION": None}


def assert_azure_shape(requests, deployment: str, version: str) -> None:
    assert requests
    for r in requests:
        assert r.path == f"/openai/deployments/{deployment}/chat/completions"
        assert r.query == {"api-version": version}
        assert r.headers["api-key"] == KEY
        assert KEY not in r.headers.get("Authorization", "")


def assert_key_nowhere(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), p


def test_azure_judge_flags(data_dir, openai_server):
    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True)
    shutil.copy(REFERENCE_RUNS / "model_answer" / "alpaca-13b.jsonl", answers)
    openai_server.responder = lambda body: "Fine.\n\nRating: [[6]]"
    endpoint = openai_server.base_url.removesuffix("/v1")
    out = mtbench("judge", "--data-dir", data_dir, "--judge-api", "azure", "--judge-azure-endpoint", endpoint,
                  "--judge-api-version", "2024-10-21", "--judge-model", "gpt-4o-judge", "--per-category", "1",
                  "--no-progress", env={**NO_ENV, "AZURE_OPENAI_API_KEY": KEY})
    assert out.returncode == 0, out.stderr
    assert_azure_shape(openai_server.chat_requests, "gpt-4o-judge", "2024-10-21")
    assert {r.body["model"] for r in openai_server.chat_requests} == {"gpt-4o-judge"}
    judged = [json.loads(line) for line in (data_dir / "mt_bench/model_judgment/gpt-4o-judge_single.jsonl").open()]
    assert len(judged) == 2 * 8 and {j["score"] for j in judged} == {6}
    assert_key_nowhere(data_dir)
    assert KEY not in out.stdout + out.stderr


def test_azure_answers_from_the_usual_variables_and_a_named_deployment(data_dir, openai_server, tmp_path):
    openai_server.responder = lambda body: "An answer."
    endpoint = openai_server.base_url.removesuffix("/v1")
    env = {**NO_ENV, "AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": endpoint,
           "OPENAI_API_VERSION": "2025-01-01-preview"}
    out = mtbench("gen-api-answer", "--data-dir", data_dir, "--api", "azure", "--azure-deployment", "prod-4o",
                  "--model", "gpt-4o", "--question-begin", "0", "--question-end", "2", "--no-progress", env=env)
    assert out.returncode == 0, out.stderr
    assert_azure_shape(openai_server.chat_requests, "prod-4o", "2025-01-01-preview")
    assert len(openai_server.chat_requests) == 4  # two questions, two turns
    assert_key_nowhere(data_dir)


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--judge-api", "azure"], {"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_API_VERSION": "2024-10-21"},
     "--judge-api azure needs the resource endpoint: --judge-azure-endpoint URL or $AZURE_OPENAI_ENDPOINT"),
    (["--judge-api", "azure", "--judge-azure-endpoint", "https://x.openai.azure.com"], {"AZURE_OPENAI_API_KEY": KEY},
     "--judge-api azure needs an api-version: --judge-api-version VERSION or $AZURE_OPENAI_API_VERSION"),
    (["--judge-api", "azure", "--judge-azure-endpoint", "https://x.openai.azure.com",
      "--judge-api-version", "2024-10-21"], {}, "no API key: set $AZURE_OPENAI_API_KEY"),
    (["--judge-api-version", "2024-10-21"], {"OPENAI_API_KEY": "k"}, "--judge-api-version need --judge-api azure"),
    (["--judge-api", "azure", "--judge-base-url", "http://127.0.0.1:1/v1"], {},
     "--judge-base-url is for --judge-api openai; Azure takes --judge-azure-endpoint"),
    (["--judge-api", "azure", "--judge-azure-endpoint", "x.openai.azure.com"], {}, "--judge-azure-endpoint must be"),
    (["--judge-api", "azure"], {"AZURE_OPENAI_ENDPOINT": "azure.example", "AZURE_OPENAI_API_VERSION": "v"},
     "$AZURE_OPENAI_ENDPOINT must be an http:// or https:// URL"),
])
def test_azure_errors_are_one_line(data_dir, args, env, message):
    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True)
    shutil.copy(REFERENCE_RUNS / "model_answer" / "alpaca-13b.jsonl", answers)
    out = mtbench("judge", "--data-dir", data_dir, "--per-category", "1", *args, env={**NO_ENV, **env})
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_run_answers_and_judges_through_azure_and_logs_to_tensorboard(data_dir, openai_server, tmp_path):
    """`mtbench run` hands each step its own endpoint flags (--api / --judge-api) and show's --log-to."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    openai_server.responder = lambda body: "Good.\n\nRating: [[7]]"
    endpoint = openai_server.base_url.removesuffix("/v1")
    out = mtbench("run", "--data-dir", data_dir, "--model", "gpt-4o-mini", "--api", "azure", "--azure-endpoint",
                  endpoint, "--api-version", "2024-10-21", "--judge-api", "azure", "--judge-azure-endpoint",
                  endpoint, "--judge-api-version", "2024-06-01", "--judge-model", "gpt-4o", "--question-end", "2",
                  "--no-progress", "--log-to", "tensorboard", "--log-dir", tmp_path / "tb", "--log-name", "r1",
                  env={**NO_ENV, "AZURE_OPENAI_API_KEY": KEY}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    answered = [r for r in openai_server.chat_requests if "mini" in r.path]
    judged = [r for r in openai_server.chat_requests if "mini" not in r.path]
    assert_azure_shape(answered, "gpt-4o-mini", "2024-10-21")
    assert_azure_shape(judged, "gpt-4o", "2024-06-01")
    assert len(answered) == 4 and len(judged) == 4
    events = EventAccumulator(str(tmp_path / "tb" / "r1"))
    events.Reload()
    assert events.Scalars("overall/gpt-4o-mini")[0].value == 7.0
    assert_key_nowhere(tmp_path)
