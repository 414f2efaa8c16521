"""--force-verdict with a served judge (issue 24, part 4).

A scripted server on loopback that returns prompt log-probabilities of set values checks the arithmetic
(the options' log-probabilities from where their request departs from the one without an option, the
softmax, the records) against numbers computed here by hand; one that returns none is refused in one line
before any judge call. tests/test_vllm_server.py checks a real vLLM server against the local judge.
"""

from __future__ import annotations

import math

from tests.helpers import lines as rows
from tests.openai_server import Reply, completion
from tests.test_judge import add_answers, judge
from tests.test_local_judge import ANSWERS

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
