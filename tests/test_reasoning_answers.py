"""Reasoning models in both answer commands: the visible answer in ``turns``, the thinking in ``reasoning``,
turn 2 built from the visible answer only, a turn cut while reasoning recorded and counted.

gen-api-answer against the scripted loopback server (inline ``<think>`` blocks, a ``reasoning_content``
field, a turn-1 reply cut inside its reasoning); gen-answer with a tiny Llama built offline whose chat
template opens ``<think>`` in the generation prompt (Qwen3/DeepSeek-R1 style) and whose greedy reply is
scripted token by token.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.chat_result import FailureKind, parse_completion
from mtbench.core.reasoning import ReasoningOptions, ReasoningTags
from mtbench.core.record_files import load_answers
from mtbench.core.records import Answer, Choice, Question, iter_jsonl
from mtbench.gen_api_answer import generate_api_answers
from mtbench.gen_model_answer import AnswerSettings, ModelSpec, answer_questions, load_generator
from tests.cli import mtbench
from tests.conftest import REPO
from tests.models import build_chain_model
from tests.openai_server import completion, reasoning_model_refusal, with_reasoning
from tests.test_gen_answer import Recording
from tests.test_gen_api_answer import api_key as api_key  # noqa: F401  (the autouse key fixture)
from tests.test_gen_api_answer import assert_one_error_line, cli, config, echo

ANSWERS = "mt_bench/model_answer/test-model.jsonl"


def lines(data_dir: Path) -> list[dict]:
    return [obj for _, obj in iter_jsonl(data_dir / ANSWERS)]


def history_texts(server) -> list[str]:
    """Every assistant message sent back to the model in a later turn."""
    return [m["content"] for r in server.chat_requests for m in r.body["messages"] if m["role"] == "assistant"]


# ---------------------------------------------------------------------------------------------------
# a reply's reasoning field (pure)


def body(message: dict, usage: dict | None = None, finish: str = "stop") -> dict:
    return {"choices": [{"message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 9, **(usage or {})}}


def test_parse_completion_reads_the_reasoning_field_and_its_token_count():
    result = parse_completion(body({"content": "Hi.", "reasoning_content": "think"},
                                   {"completion_tokens_details": {"reasoning_tokens": 6}}))
    assert (result.text, result.reasoning, result.reasoning_tokens) == ("Hi.", "think", 6)
    assert result.usage()["reasoning_tokens"] == 6
    assert parse_completion(body({"content": "Hi.", "reasoning": "other name"})).reasoning == "other name"
    # cut while thinking: no content, but a reply all the same (an empty visible answer), not a failure
    cut = parse_completion(body({"content": None, "reasoning_content": "so far"}, finish="length"))
    assert cut.ok and cut.text == "" and cut.reasoning == "so far" and cut.finish_reason == "length"
    # no content and no reasoning stays the retryable empty reply it was; no count, no usage field
    empty = parse_completion(body({"content": None, "reasoning_content": "  "}))
    assert empty.failure is not None and empty.failure.kind is FailureKind.EMPTY
    plain = parse_completion(body({"content": "Hi."}, {"completion_tokens_details": {"reasoning_tokens": None}}))
    assert plain.reasoning is None and "reasoning_tokens" not in plain.usage()


# ---------------------------------------------------------------------------------------------------
# gen-api-answer


def test_inline_think_blocks_are_split_and_turn_2_carries_the_visible_answer(openai_server, data_dir):
    def thinking(body) -> str:
        said = body["messages"][-1]["content"][:20]
        if len(body["messages"]) == 1:
            return f"<think>private plan for {said}</think>\n\nVisible: {echo(body)}"
        # the second turn as a server whose template opened the block: only the closing tag shows
        return f"more private thought</think>\n\nSecond: {said}"

    openai_server.responder = thinking
    summary = generate_api_answers(config(openai_server, data_dir, question_end=2))
    assert summary.answered == 2 and summary.cut_while_reasoning == 0
    sent = history_texts(openai_server)
    assert len(sent) == 2 and all(t.startswith("Visible: ") for t in sent)
    assert not any("private" in json.dumps(r.body) or "think>" in json.dumps(r.body)
                   for r in openai_server.chat_requests)
    for line in lines(data_dir):
        (choice,) = line["choices"]
        assert choice["turns"][0].startswith("Visible: reply#1") and choice["turns"][1].startswith("Second: ")
        assert choice["reasoning"][0].startswith("private plan for ")
        assert choice["reasoning"][1] == "more private thought"
        assert "cut_while_reasoning" not in choice and line["finish_reasons"] == [["stop", "stop"]]
    assert all(not a.failed for a in load_answers(data_dir / ANSWERS).values())


def test_reasoning_content_field_and_reasoning_tokens_are_recorded(openai_server, data_dir):
    openai_server.enqueue(
        with_reasoning(completion("Answer one."), "secret one", reasoning_tokens=5),
        with_reasoning(completion("Answer two."), "secret two", field="reasoning", reasoning_tokens=3),
        completion("plain one"),
        completion("<think></think>plain two"),
    )
    generate_api_answers(config(openai_server, data_dir, question_end=2))
    assert "secret" not in json.dumps([r.body for r in openai_server.chat_requests])
    first, second = lines(data_dir)
    assert first["choices"] == [{"index": 0, "turns": ["Answer one.", "Answer two."],
                                 "reasoning": ["secret one", "secret two"]}]
    assert first["usage"]["reasoning_tokens"] == 8
    # no reasoning field at all, then an empty inline block: the record says so per turn
    assert second["choices"] == [{"index": 0, "turns": ["plain one", "plain two"], "reasoning": [None, ""]}]
    assert "reasoning_tokens" not in second["usage"]


def test_a_turn_cut_inside_its_reasoning_is_an_empty_answer_recorded_and_counted(openai_server, data_dir):
    openai_server.enqueue(
        completion("<think>Let me think about this at great leng", finish_reason="length"),
        "Turn two answer.",
        with_reasoning(completion(None, finish_reason="length"), "field reasoning that never ends"),
        "Another turn two.",
    )
    summary = generate_api_answers(config(openai_server, data_dir, question_end=2))
    assert (summary.answered, summary.failed) == (2, ())  # judged as the empty answers they are, not skipped
    assert summary.truncated_turns == 2 and summary.cut_while_reasoning == 2
    assert history_texts(openai_server) == ["", ""]  # turn 2 saw the empty visible answer, not the thinking
    first, second = lines(data_dir)
    assert first["choices"][0] == {"index": 0, "turns": ["", "Turn two answer."],
                                   "reasoning": ["Let me think about this at great leng", None],
                                   "cut_while_reasoning": [1]}
    assert first["finish_reasons"] == [["length", "stop"]]
    assert second["choices"][0]["turns"] == ["", "Another turn two."]
    assert second["choices"][0]["cut_while_reasoning"] == [1]
    assert Answer.from_json(first).choices[0].cut_while_reasoning == (1,)


def test_hidden_reasoning_that_spends_the_limit_is_an_empty_answer_not_a_failure(openai_server, data_dir):
    # an o-series model: no content, no reasoning shown, only the count of the tokens it thought
    openai_server.enqueue(with_reasoning(completion("", finish_reason="length"), reasoning_tokens=1024))
    openai_server.responder = echo
    summary = generate_api_answers(config(openai_server, data_dir, question_end=1))
    assert (summary.answered, summary.failed, summary.cut_while_reasoning) == (1, (), 1)
    assert len(openai_server.chat_requests) == 2  # not retried: asked the same way it is cut again
    (line,) = lines(data_dir)
    assert line["choices"][0]["turns"][0] == "" and line["choices"][0]["cut_while_reasoning"] == [1]
    assert "reasoning" not in line["choices"][0] and line["usage"]["reasoning_tokens"] == 1024
    assert line["finish_reasons"] == [["length", "stop"]] and history_texts(openai_server) == [""]


def test_a_model_that_refuses_max_tokens_and_temperature_is_adapted_to_once(openai_server, data_dir, caplog):
    openai_server.responder = lambda body: reasoning_model_refusal(body) or echo(body)
    summary = generate_api_answers(config(openai_server, data_dir, question_end=3, parallel=2))
    assert summary.answered == 3 and not summary.failed
    answered = [r.body for r in openai_server.chat_requests if reasoning_model_refusal(r.body) is None]
    assert len(answered) == 6 and len(openai_server.chat_requests) == 8  # two refusals, learnt once each
    assert all(b["max_completion_tokens"] == 1024 and "temperature" not in b for b in answered)
    refusals = [r.message for r in caplog.records if "refuses" in r.message and "(HTTP 400" in r.message]
    assert len(refusals) == 2, refusals
    for line in lines(data_dir):
        assert line["request_params"] == {"max_completion_tokens": 1024}
        assert line["max_tokens"] == 1024  # the user's budget, as asked


def test_keep_reasoning_and_other_tags(openai_server, data_dir):
    openai_server.responder = lambda body: "<think>kept</think> [R]why[/R] shown"
    generate_api_answers(config(openai_server, data_dir, question_end=1, reasoning=ReasoningOptions(keep=True)))
    (line,) = lines(data_dir)
    assert line["choices"] == [{"index": 0, "turns": ["<think>kept</think> [R]why[/R] shown"] * 2}]
    assert line["keep_reasoning"] is True
    (data_dir / ANSWERS).unlink()
    tags = ReasoningOptions(tags=ReasoningTags("[R]", "[/R]"))
    generate_api_answers(config(openai_server, data_dir, question_end=1, reasoning=tags))
    (line,) = lines(data_dir)
    assert line["choices"][0]["turns"] == ["<think>kept</think>  shown"] * 2
    assert line["choices"][0]["reasoning"] == ["why"] * 2 and line["reasoning_tags"] == ["[R]", "[/R]"]


def test_cli_extra_body_goes_on_the_wire_and_into_the_record(openai_server, data_dir):
    openai_server.responder = lambda body: "<reason>hidden</reason>fine"
    extra = {"reasoning_effort": "high", "chat_template_kwargs": {"enable_thinking": True}}
    result = cli("--model", "test-model", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
                 "--question-end", "1", "--max-tokens", "300", "--extra-body", json.dumps(extra),
                 "--reasoning-tags", "<reason>", "</reason>", "--no-progress", cwd=data_dir.parent)
    assert result.returncode == 0, result.stderr
    for request in openai_server.chat_requests:
        assert request.body["reasoning_effort"] == "high" and request.body["max_tokens"] == 300
        assert request.body["chat_template_kwargs"] == {"enable_thinking": True}
    (line,) = lines(data_dir)
    assert line["extra_body"] == extra and line["choices"][0]["turns"] == ["fine", "fine"]


@pytest.mark.parametrize("flags, needle", [
    (["--reasoning-tags", "<think>"], "--reasoning-tags"),
    (["--reasoning-tags", "<t>", "<t>"], "must differ"),
    (["--reasoning-tags", "<t>", " "], "non-empty"),
    (["--extra-body", "{reasoning_effort: high}"], "--extra-body must be a JSON object"),
    (["--extra-body", "[1, 2]"], "--extra-body must be a JSON object"),
    (["--extra-body", '{"max_tokens": 5}'], "use --max-tokens"),
    (["--extra-body", '{"model": "x"}'], "--extra-body may not set model"),
])
def test_cli_bad_reasoning_flags_exit_2_in_one_line(openai_server, data_dir, flags, needle):
    result = cli("--model", "m", "--base-url", openai_server.base_url, "--data-dir", str(data_dir), *flags,
                 cwd=data_dir.parent)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, needle)
    assert not openai_server.requests


# ---------------------------------------------------------------------------------------------------
# gen-answer (local)

# The model's greedy reply to a prompt that ends inside an opened <think>: "hmm </think> paris".
CHAIN = {"<think>": "hmm", "hmm": "</think>", "</think>": "paris", "paris": "<|im_end|>"}
QUESTIONS = [Question(question_id=1, category="writing", turns=("what is the capital", "and why"))]


@pytest.fixture(scope="module")
def thinking_model(tmp_path_factory) -> Path:
    return build_chain_model(tmp_path_factory.mktemp("thinking") / "model", CHAIN)


def local_answer(model: Path, max_new_token: int = 16, **spec) -> tuple[dict, list[str]]:
    generator = Recording(load_generator(ModelSpec(path=str(model), device="cpu", **spec)))
    (answer,) = answer_questions(generator, QUESTIONS, AnswerSettings(model_id="m", max_new_token=max_new_token))
    return answer.to_json(), generator.prompts


def test_local_template_opened_reasoning_is_split_and_left_out_of_turn_2(thinking_model):
    record, prompts = local_answer(thinking_model)
    assert prompts[0].endswith("<|im_start|>assistant\n<think>\n")
    assert record["choices"] == [{"index": 0, "turns": ["paris", "paris"], "reasoning": ["hmm", "hmm"]}]
    assert "<|im_start|>assistant\nparis<|im_end|>\n<|im_start|>user\nand why" in prompts[1]
    assert "hmm" not in prompts[1]
    assert "chat_template_kwargs" not in record and "reasoning_tags" not in record


def test_local_turn_cut_inside_the_opened_block_is_empty_and_flagged(thinking_model):
    record, prompts = local_answer(thinking_model, max_new_token=1)
    assert record["choices"] == [{"index": 0, "turns": ["", ""], "reasoning": ["hmm", "hmm"],
                                  "cut_while_reasoning": [1, 2]}]
    assert "<|im_start|>assistant\n<|im_end|>" in prompts[1] and "error" not in record


def test_local_chat_template_kwargs_reach_the_template_and_the_record(thinking_model):
    record, prompts = local_answer(thinking_model, chat_template_kwargs={"enable_thinking": False})
    assert prompts[0].endswith("<think>\n\n</think>\n\n")
    # thinking off: the template closed the block, the reply has no tag, the record has no reasoning
    assert record["choices"] == [{"index": 0, "turns": ["paris", "paris"]}]
    assert record["chat_template_kwargs"] == {"enable_thinking": False}


def test_local_keep_reasoning_leaves_the_text_as_generated(thinking_model):
    generator = load_generator(ModelSpec(path=str(thinking_model), device="cpu"))
    settings = AnswerSettings(model_id="m", reasoning=ReasoningOptions(keep=True))
    (answer,) = answer_questions(generator, QUESTIONS[:1], settings)
    assert answer.choices[0].turns[0] == "hmm </think> paris" and answer.choices[0].reasoning is None


def gen_answer(*args: str) -> subprocess.CompletedProcess:
    return mtbench("gen-answer", *args, cwd=REPO)


@pytest.mark.slow
def test_cli_gen_answer_reasoning_end_to_end(thinking_model, data_dir):
    base = ["--model-path", str(thinking_model), "--data-dir", str(data_dir), "--device", "cpu",
            "--question-end", "2", "--no-progress"]
    cut = gen_answer(*base, "--model-id", "cut", "--max-new-token", "1")
    assert cut.returncode == 0, cut.stderr
    assert "4 turn(s) cut by --max-new-token 1 while reasoning" in cut.stderr
    lines = [obj for _, obj in iter_jsonl(data_dir / "mt_bench" / "model_answer" / "cut.jsonl")]
    assert [line["choices"][0]["cut_while_reasoning"] for line in lines] == [[1, 2], [1, 2]]
    assert all(line["choices"][0]["turns"] == ["", ""] for line in lines)

    off = gen_answer(*base, "--model-id", "off", "--chat-template-kwargs", '{"enable_thinking": false}')
    assert off.returncode == 0, off.stderr
    lines = [obj for _, obj in iter_jsonl(data_dir / "mt_bench" / "model_answer" / "off.jsonl")]
    assert all(line["choices"] == [{"index": 0, "turns": ["paris", "paris"]}] for line in lines)
    assert all(line["chat_template_kwargs"] == {"enable_thinking": False} for line in lines)

    kept = gen_answer(*base, "--model-id", "kept", "--keep-reasoning")
    assert kept.returncode == 0, kept.stderr
    lines = [obj for _, obj in iter_jsonl(data_dir / "mt_bench" / "model_answer" / "kept.jsonl")]
    assert lines[0]["choices"][0]["turns"][0] == "hmm </think> paris" and lines[0]["keep_reasoning"] is True


@pytest.mark.parametrize("flags, needle", [
    (["--chat-template-kwargs", "{enable_thinking}"], "--chat-template-kwargs must be a JSON object"),
    (["--chat-template-kwargs", "true"], "--chat-template-kwargs must be a JSON object"),
    (["--chat-template", "chatml", "--chat-template-kwargs", "{}"], None),  # {} is no kwargs: accepted
    (["--chat-template", "chatml", "--chat-template-kwargs", '{"a": 1}'], "only applies to a Jinja"),
    (["--reasoning-tags", "<think>"], "--reasoning-tags"),
    (["--reasoning-tags", "</think>", "</think>"], "must differ"),
])
def test_cli_gen_answer_bad_reasoning_flags_exit_2(thinking_model, data_dir, flags, needle):
    result = gen_answer("--model-path", str(thinking_model), "--model-id", "m", "--data-dir", str(data_dir),
                        "--device", "cpu", "--question-end", "1", "--max-new-token", "2", "--no-progress", *flags)
    if needle is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and needle in errors[0], result.stderr


# ---------------------------------------------------------------------------------------------------
# mtbench show: the count per model


def test_show_counts_turns_cut_while_reasoning_per_model(tmp_path):
    layout = BenchLayout(data_dir=tmp_path)
    layout.answer_dir.mkdir(parents=True)
    thinker = [Answer(question_id=q, model_id="thinker", choices=(
        Choice(index=0, turns=("", "b"), reasoning=("long", None), cut_while_reasoning=(1,)),), answer_id="x")
        for q in (81, 82)]
    plain = [Answer(question_id=q, model_id="plain", choices=(Choice(index=0, turns=("a", "b")),)) for q in (81, 82)]
    for model, answers in (("thinker", thinker), ("plain", plain)):
        layout.answer_file(model).write_text("".join(json.dumps(a.to_json()) + "\n" for a in answers))
    judgments = layout.judgment_file("gpt-4", "single")
    judgments.parent.mkdir(parents=True)
    judgments.write_text("".join(
        json.dumps({"question_id": q, "model": m, "judge": ["gpt-4", "single-v1"], "user_prompt": "p",
                    "judgment": "[[3]]", "score": 3, "turn": t, "tstamp": 0}) + "\n"
        for q in (81, 82) for m in ("thinker", "plain") for t in (1, 2)))
    result = mtbench("show", "--data-dir", tmp_path, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["turns_cut_while_reasoning"] == {"plain": 0, "thinker": 2}
    (note,) = [n for n in report["notes"] if "cut while reasoning" in n]
    assert "thinker 2" in note and "plain" not in note
