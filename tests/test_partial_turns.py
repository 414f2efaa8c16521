"""Finished turn-1 replies survive a kill: saved beside the answer file, reused by the rerun (issue 27 item 1).

A run killed while its turn 2s are in flight used to lose every turn 1 it had paid for: the answer
record is written only when both turns are done. Here a real gen-api-answer run against the scripted
server is SIGKILLed once its turn 1s are saved (its turn 2s hang), and the rerun must send only turn-2
requests, each carrying the first run's turn-1 text in its history; gen-answer's local engine the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtbench.core.partial_turns import PartialTurns, partial_path, prune_partial
from mtbench.core.reasoning import SplitReply
from mtbench.core.record_files import load_questions
from mtbench.core.records import iter_jsonl
from tests.openai_server import Reply, completion

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-secret-partial-turns"


def wait_for_lines(path: Path, lines: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.is_file() and path.read_text().count("\n") >= lines:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never held {lines} line(s); the run exited {proc.poll()}")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    out.update({"OPENAI_API_KEY": SECRET, "PYTHONPATH": str(REPO)})
    return out


@pytest.mark.slow
def test_a_killed_api_run_keeps_its_turn_1_replies_and_the_rerun_asks_only_turn_2(openai_server, data_dir):
    first_run = {"on": True}
    probe = load_questions(data_dir / "mt_bench" / "question.jsonl")[0].turns[0]

    def responder(body):
        if len(body["messages"]) == 1:  # turn 1: a reply of its own per question
            return f"first answer to: {body['messages'][0]['content'][:30]}"
        if first_run["on"] and body["messages"][0]["content"] != probe:
            # every turn 2 but the first question's (the runner's probe runs alone) hangs until the kill
            return Reply(body=completion("never seen").body, delay=60)
        return f"second answer after: {body['messages'][1]['content'][:30]}"

    openai_server.responder = responder
    args = ["--model", "m1", "--base-url", openai_server.base_url, "--data-dir", str(data_dir),
            "--question-end", "4", "--parallel", "4"]
    answers = data_dir / "mt_bench" / "model_answer" / "m1.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mtbench", "gen-api-answer", *args], cwd=data_dir.parent,
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(partial_path(answers), 4, proc, timeout=60)
    finally:
        kill(proc)
    assert [obj["question_id"] for _, obj in iter_jsonl(answers)] == [81], "only the probe finished"
    turn_1 = {r.body["messages"][0]["content"]: f"first answer to: {r.body['messages'][0]['content'][:30]}"
              for r in openai_server.chat_requests if len(r.body["messages"]) == 1}
    assert len(turn_1) == 4
    assert sum(len(r.body["messages"]) == 1 for r in openai_server.chat_requests) == 4
    asked_first = len(openai_server.chat_requests)

    first_run["on"] = False
    rerun = subprocess.run([sys.executable, "-m", "mtbench", "gen-api-answer", *args], cwd=data_dir.parent,
                           env=env(), capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    sent = openai_server.chat_requests[asked_first:]
    assert len(sent) == 3, "only the three missing turn 2s are asked"
    for request in sent:
        messages = request.body["messages"]
        assert len(messages) == 3, "a turn 1 was asked again"
        assert messages[1] == {"role": "assistant", "content": turn_1[messages[0]["content"]]}
    lines = [obj for _, obj in iter_jsonl(answers)]
    assert [line["question_id"] for line in lines] == [81, 82, 83, 84]
    for line in lines[1:]:
        assert {"question_id", "answer_id", "model_id", "choices", "tstamp"} <= set(line)  # FastChat's record
        first, second = line["choices"][0]["turns"]
        assert first.startswith("first answer to: ") and second.startswith("second answer after: ")
        assert line["usage"]["resumed_turns"] == 1 and line["usage"]["calls"] == 1
    assert not partial_path(answers).exists(), "the saved turns are spent once the answers are written"


def test_saved_turns_are_reused_only_with_the_same_settings_and_pruned_when_answered(tmp_path):
    answers = tmp_path / "m1.jsonl"
    with PartialTurns(answers, {"model": "a", "max_tokens": 10}) as partial:
        partial.save(81, 0, 1, SplitReply("one", reasoning="why"), "stop", {"prompt_tokens": 3})
        partial.save(82, 0, 1, SplitReply("two"))
    # a torn last line (a kill mid-write) is skipped, not an error
    with open(partial_path(answers), "a") as f:
        f.write('{"question_id": 83, "cho')
    same = PartialTurns(answers, {"max_tokens": 10, "model": "a"})
    assert same.replies(81, 0, turns=2) == [SplitReply("one", reasoning="why")]
    assert same.replies(81, 0, turns=1) == [], "a saved last turn would be a whole answer: never reused"
    assert same.replies(83, 0, turns=2) == []
    assert PartialTurns(answers, {"model": "b", "max_tokens": 10}).replies(81, 0, turns=2) == []
    prune_partial(answers, {81})
    assert [obj["question_id"] for _, obj in iter_jsonl(partial_path(answers))] == [82]
    prune_partial(answers, {82})
    assert not partial_path(answers).exists()


class Interrupting:
    """The tiny model, recording its prompts; a Ctrl-C arrives when a prompt outside ``allowed`` comes (the
    turn-2 wave, after the turn-1 one), as it would mid-generation."""

    def __init__(self, inner, allowed: set[str] | None = None):
        self.inner = inner
        self.template = inner.template
        self.allowed = allowed
        self.prompts: list[str] = []

    def generate(self, prompts, params):
        self.prompts += prompts
        if self.allowed is not None and not set(prompts) <= self.allowed:
            raise KeyboardInterrupt
        return self.inner.generate(prompts, params)


def test_a_local_run_interrupted_in_turn_2_keeps_its_turn_1_and_the_rerun_generates_only_turn_2(data_dir, tmp_path):
    import pytest

    from mtbench.core.bench import BenchLayout
    from mtbench.core.record_files import load_answers
    from mtbench.core.templates import conversation
    from mtbench.gen_model_answer import (
        AnswerSettings,
        GenAnswerConfig,
        ModelSpec,
        gen_model_answer,
        load_generator,
    )
    from tests.models import build_tiny_model

    tiny = load_generator(ModelSpec(path=str(build_tiny_model(tmp_path / "tiny")), batch_size=4))
    questions = load_questions(data_dir / "mt_bench" / "question.jsonl")[:4]
    cfg = GenAnswerConfig(model=ModelSpec(path="unused"), answers=AnswerSettings(model_id="tiny", max_new_token=8),
                          layout=BenchLayout(data_dir=data_dir), question_end=4, progress=False)
    first = Interrupting(tiny, {tiny.template.render(conversation(q.turns[:1], [])) for q in questions})
    with pytest.raises(KeyboardInterrupt):
        gen_model_answer(cfg, generator_factory=lambda spec: first)
    assert not cfg.output_file.exists(), "no answer was finished"
    saved = {obj["question_id"]: obj["answer"] for _, obj in iter_jsonl(partial_path(cfg.output_file))}
    assert sorted(saved) == [81, 82, 83, 84]

    rerun = Interrupting(tiny)
    summary = gen_model_answer(cfg, generator_factory=lambda spec: rerun)
    assert summary.written == 4 and summary.failed == 0
    by_id = {q.question_id: q for q in questions}
    expected = [tiny.template.render(conversation(by_id[qid].turns, [saved[qid]])) for qid in sorted(saved)]
    assert sorted(rerun.prompts) == sorted(expected), "only turn 2s, each on the first run's turn-1 text"
    answers = load_answers(cfg.output_file)
    assert {qid: a.turns[0] for qid, a in answers.items()} == saved
    assert not partial_path(cfg.output_file).exists()
