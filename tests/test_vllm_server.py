"""Against one real vLLM OpenAI server on the CPU (SmolLM2, float32, started once for the module): it
ranks forced-verdict options as the in-process local judge does on the same prompts; `mtbench judge
--force-verdict` judges through it; and the whole pipeline (tests/test_pipeline_e2e.py) runs against it.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.cli import mtbench
from tests.conftest import REPO
from tests.helpers import lines as rows
from tests.model_servers import vllm_server
from tests.test_local_judge import ANSWERS, make_data
from tests.test_pipeline_e2e import check_pipeline

# heavy: the server's start and its full-prompt requests take 5 minutes or more of a 2-core machine; make test
# keeps the vLLM engine's own option scores against transformers (tests/test_vllm.py) and the served
# ranking's arithmetic against a scripted server (tests/test_served_forced.py).
pytestmark = [pytest.mark.vllm, pytest.mark.heavy]

SERVED = "smollm2-judge"


@pytest.fixture(scope="module")
def vllm_judge(smollm_dir, tmp_path_factory):
    """SmolLM2 served by vLLM's OpenAI server on 127.0.0.1, once for this module: its base URL."""
    with vllm_server(smollm_dir, SERVED, tmp_path_factory.mktemp("vllm") / "serve.log") as base_url:
        yield base_url


def rank_cases():
    """Real judge messages (FastChat's pair prompt, question 81, turn 1), replies to continue, and the choice
    to force: a verdict with no reply and after one, a rating after a reply (every request a full prompt,
    about 5 s each on a 2-core CPU: three cases, 19 requests)."""
    from mtbench.core.record_files import load_answers, load_judge_prompts, load_questions
    from mtbench.gen_judgment.forced import RATING, VERDICT
    from mtbench.gen_judgment.prompts import judge_messages, render_pair
    from tests.conftest import MT_BENCH_DATA

    question = load_questions(MT_BENCH_DATA / "question.jsonl")[0]
    a, b = (load_answers(ANSWERS / f"{m}.jsonl")[question.question_id] for m in ("alpaca-13b", "gpt-3.5-turbo"))
    prompt = load_judge_prompts(MT_BENCH_DATA / "judge_prompts.jsonl")["pair-v2"]
    messages = judge_messages(prompt, render_pair(prompt, question, a.turns, b.turns, 1, None))
    return [(messages, "", VERDICT), (messages, "Assistant A is better.", VERDICT),
            (messages, "Assistant B's answer is more engaging and detailed.", RATING)]


@pytest.fixture(scope="module")
def local_ranks(smollm_dir) -> list[list[float]]:
    """The in-process local judge's option log-probabilities on rank_cases(). Computed before the vLLM
    server starts (the test names this fixture first): that server's CPU workers hold every core even when
    idle, and a forward pass beside them took over 10 minutes on a 2-core machine."""
    from mtbench.gen_judgment.local import LocalJudge, load_backend

    async def local() -> list[list[float]]:
        backend = load_backend(LocalJudge(path=str(smollm_dir), dtype="float32", device="cpu"), "smol", 1,
                               force_verdict=True)
        async with backend:
            return [await backend.rank(m, reply, choice) for m, reply, choice in rank_cases()]

    return asyncio.run(local())


def test_vllm_server_ranks_the_options_as_the_local_judge(local_ranks, vllm_judge, monkeypatch):
    from mtbench.core.client import ChatClient, EndpointConfig
    from mtbench.gen_judgment import served_forced

    monkeypatch.setenv("OPENAI_API_KEY", "none")
    cases = rank_cases()

    async def served() -> list[list[float]]:
        async with ChatClient(EndpointConfig(base_url=vllm_judge)) as client:
            await served_forced.probe(client, SERVED)
            return [await served_forced.rank(client, SERVED, m, reply, choice) for m, reply, choice in cases]

    theirs = asyncio.run(served())
    for (_, reply, choice), s, lo in zip(cases, theirs, local_ranks, strict=True):
        print(choice.prefix.strip(), repr(reply[:20]), [round(x, 3) for x in s], [round(x, 3) for x in lo])
        assert s.index(max(s)) == lo.index(max(lo))  # the same option wins
        assert max(abs(x - y) for x, y in zip(s, lo, strict=True)) < 0.02


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


def test_mt_bench_pipeline_end_to_end_through_vllm(vllm_judge, data_dir):
    check_pipeline(vllm_judge, SERVED, data_dir)
