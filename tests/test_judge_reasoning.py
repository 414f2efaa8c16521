"""`mtbench judge` with a reasoning judge: the real CLI, the real openai client, a scripted HTTP server that
answers as OpenAI's reasoning models do (400 for max_tokens and temperature 0, reasoning beside or inside
the content).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.openai_server import (
    TEMPERATURE_REFUSED,
    Reply,
    completion,
    reasoning_model_refusal,
    with_reasoning,
)
from tests.test_judge import OFFICIAL, add_answers, judge, judge_in_process, pair_file, rows, single_file

DECOY = "A first guess would be [[2]], but the answer is correct."
THINKING = "private-answer-reasoning"  # in the answer file's reasoning field: never sent to the judge


def add_reasoning_answers(data_dir: Path, *models: str) -> None:
    """Answer files as a reasoning model's would be after the answers' split: a reasoning field per turn."""
    add_answers(data_dir, *(OFFICIAL / f"{m}.jsonl" for m in models))
    for m in models:
        path = data_dir / "mt_bench" / "model_answer" / f"{m}.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for r in records:
            r["choices"][0]["reasoning"] = [f"{THINKING} {i}" for i, _ in enumerate(r["choices"][0]["turns"])]
        path.write_text("".join(json.dumps(r) + "\n" for r in records))


def reasoning_judge(verdict: str, decoy: str, refusal=reasoning_model_refusal):
    """A judge that refuses as ``refusal`` says, then reasons with a ``decoy`` verdict before its own:
    inline <think> in even replies, in reasoning_content in odd ones."""
    answered = []

    def respond(body: dict) -> Reply:
        refused = refusal(body)
        if refused is not None:
            return refused
        answered.append(body)
        if len(answered) % 2:
            return with_reasoning(completion(f"The answer is right. Verdict: {verdict}", completion_tokens=80),
                                  f"{decoy} Let me look again.", reasoning_tokens=50)
        text = f"<think>\n{decoy} Let me look again.\n</think>\n\nThe answer is right. Verdict: {verdict}"
        return with_reasoning(completion(text, completion_tokens=80), reasoning_tokens=50)

    return respond


def refused_requests(server, field: str) -> int:
    return sum(field in r.body for r in server.chat_requests)


def test_a_reasoning_judge_is_adapted_once_and_judged_on_its_final_content(data_dir, openai_server):
    add_reasoning_answers(data_dir, "alpaca-13b", "gpt-3.5-turbo")
    openai_server.responder = reasoning_judge("[[7]]", DECOY)
    out = judge(data_dir, openai_server, "--first-n", "3", "--parallel", "4", "--no-progress",
                "--price-input", "0", "--price-output", "1000")
    assert out.returncode == 0, out.stderr
    wire = openai_server.chat_requests
    # Two refusals in all, both on the first call (the probe): max_tokens, then temperature 0.
    assert len(wire) == 12 + 2
    assert refused_requests(openai_server, "max_tokens") == 1 and refused_requests(openai_server, "temperature") == 2
    assert "max_completion_tokens" not in wire[0].body and wire[1].body["max_completion_tokens"] == 2048
    for r in wire[2:]:
        assert r.body["max_completion_tokens"] == 2048 and "max_tokens" not in r.body and "temperature" not in r.body
    changed = [line for line in out.stderr.splitlines() if "refuses" in line]
    assert changed == [
        "mtbench: gpt-4 refuses max_tokens (HTTP 400 unsupported_parameter): sending max_completion_tokens=2048 "
        "instead, for the rest of this run",
        "mtbench: gpt-4 refuses temperature (HTTP 400 unsupported_value): sending no temperature (the model's "
        "default) instead of 0, for the rest of this run",
    ]
    # Judge prompts carry the answers' visible turns only: neither their reasoning nor a judge's.
    for r in wire:
        prompt = json.dumps(r.body["messages"])
        assert THINKING not in prompt and "<think>" not in prompt and "[[2]]" not in prompt

    records = rows(single_file(data_dir))
    assert len(records) == 12 and {r["score"] for r in records} == {7}
    for r in records:
        assert r["judge_params"] == {"max_completion_tokens": 2048}
        assert (r["temperature"], r["max_tokens"]) == (0.0, 2048)  # what was asked for; judge_params: what was sent
        assert "[[2]]" in r["judge_reasoning"] and "[[2]]" not in r["judgment"] and "<think>" not in r["judgment"]
        assert r["judgment"] == "The answer is right. Verdict: [[7]]"
    # Reasoning tokens are output tokens: 12 replies' 80 completion tokens (50 of them reasoning) at $1000/1M.
    assert "960 completion tokens (of which 600 reasoning), cost $0.96" in out.stdout

    rerun = judge(data_dir, openai_server, "--first-n", "3", "--no-progress")
    assert rerun.returncode == 0 and "nothing to judge" in rerun.stdout, rerun.stdout + rerun.stderr
    assert len(openai_server.chat_requests) == 14  # the resume key is the same: zero calls


def test_a_pairwise_reasoning_judge_that_refuses_temperature_outright(data_dir, openai_server):
    add_reasoning_answers(data_dir, "alpaca-13b", "llama-13b")

    def refuse_temperature(body: dict) -> Reply | None:
        return Reply(status=400, body=TEMPERATURE_REFUSED) if "temperature" in body else None

    openai_server.responder = reasoning_judge("[[A]]", "Perhaps [[B]] is better?", refuse_temperature)
    out = judge(data_dir, openai_server, "--mode", "pairwise-all", "--first-n", "2", "--no-progress",
                "--judge-extra-body", '{"reasoning_effort": "high"}')
    assert out.returncode == 0, out.stderr
    assert 'judge request fields: {"reasoning_effort": "high"} (--judge-extra-body)' in out.stdout
    wire = openai_server.chat_requests
    assert len(wire) == 2 * 2 * 2 + 1 and refused_requests(openai_server, "temperature") == 1
    for r in wire:
        assert r.body["reasoning_effort"] == "high" and r.body["max_tokens"] == 2048
    records = rows(pair_file(data_dir))
    assert len(records) == 4
    for r in records:
        assert (r["g1_winner"], r["g2_winner"]) == ("model_1", "model_2")  # A in both games, not the decoy B
        assert r["judge_params"] == {"max_tokens": 2048, "reasoning_effort": "high"} and "g2_judge_params" not in r
        assert "[[B]]" in r["g1_judge_reasoning"] and "[[B]]" in r["g2_judge_reasoning"]
        assert "[[B]]" not in r["g1_judgment"] + r["g2_judgment"]


def cut_inline(body: dict) -> Reply:
    return completion(f"<think>{DECOY} And yet", finish_reason="length")


def cut_in_field(body: dict) -> Reply:
    return with_reasoning(completion(None, finish_reason="length"), f"{DECOY} And yet")


@pytest.mark.parametrize("responder", [cut_inline, cut_in_field])
def test_a_judge_cut_while_reasoning_is_recorded_as_no_verdict(data_dir, openai_server, responder):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = responder
    out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress", "--max-failure-rate", "1")
    assert out.returncode == 0, out.stderr
    records = rows(single_file(data_dir))
    assert len(records) == 2 and {r["score"] for r in records} == {None}  # not the decoy's 2
    assert len(openai_server.chat_requests) == 2  # one call each: no retries
    assert {r["error"] for r in records} == {
        "unparseable: the judge's reply ended inside its reasoning (give a larger --max-tokens)"
    }
    assert all(r["judgment"] == "" and "[[2]]" in r["judge_reasoning"] for r in records)


def test_a_plain_judge_records_what_it_always_did(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: "Fine.\n\nRating: [[7]]"
    assert judge(data_dir, openai_server, "--first-n", "1", "--no-progress").returncode == 0
    for r in rows(single_file(data_dir)):
        assert set(r) == {"question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", "tstamp",
                          "judge_call", "reference", "temperature", "max_tokens", "provenance"}
        assert r["judgment"] == "Fine.\n\nRating: [[7]]"
    for r in openai_server.chat_requests:
        assert (r.body["temperature"], r.body["max_tokens"]) == (0, 2048) and "max_completion_tokens" not in r.body


def test_judge_extra_body_must_be_a_json_object(data_dir, openai_server, capsys, monkeypatch):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    for value, message in (("[1]", "--judge-extra-body must be a JSON object"),
                           ("reasoning_effort=high", "--judge-extra-body must be a JSON object"),
                           ('{"model": "o3"}', "--judge-extra-body may not set model")):
        code, out, err = judge_in_process(data_dir, openai_server, "--judge-extra-body", value)
        assert code == 2, out + err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert openai_server.chat_requests == []


def test_a_judge_that_spends_its_whole_limit_reasoning_is_not_asked_again(data_dir, openai_server):
    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    # Hidden reasoning (OpenAI's): no content, no reasoning field; every call would be cut the same way.
    openai_server.responder = lambda body: with_reasoning(completion("", finish_reason="length"), reasoning_tokens=7)
    out = judge(data_dir, openai_server, "--first-n", "1", "--no-progress")
    assert out.returncode == 1 and len(openai_server.chat_requests) == 1  # the probe, once: no retries
    assert "cut by the token limit" in out.stderr and "raise --max-tokens" in out.stderr
