"""`mtbench gen-answer`: batching, sampling seeds, both turns, failures, resume, kill, Ray replicas.

Real models only: a tiny random Llama built offline (fast), and SmolLM2-135M-Instruct from its GGUF
(loaded once per session) for the end-to-end checks of a real chat model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout, category_temperature
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_answers, load_questions
from mtbench.core.records import Answer, Question
from mtbench.core.templates import NAMED_TEMPLATES, conversation
from mtbench.gen_model_answer import (
    AnswerSettings,
    GenAnswerConfig,
    GenerationOutput,
    HFGenerator,
    ModelSpec,
    SamplingParams,
    answer_questions,
    balanced_shards,
    check_model_location,
    chunks_of,
    cut_at_stop_strings,
    gen_model_answer,
    gpu_flags_problem,
    load_generator,
    plan_replica_chunks,
    replica_count,
    row_seed,
)
from tests import cli
from tests.conftest import MT_BENCH_DATA, REPO
from tests.helpers import lines as answer_lines
from tests.killing import kill_after_lines
from tests.models import build_tiny_model, smollm_gguf

# ---------------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="session")
def questions() -> list[Question]:
    return load_questions(MT_BENCH_DATA / "question.jsonl")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny(tiny_model_dir) -> HFGenerator:
    return load_generator(ModelSpec(path=str(tiny_model_dir), batch_size=16))


@pytest.fixture(scope="session")
def smol() -> HFGenerator:
    folder, name = smollm_gguf()
    return load_generator(ModelSpec(path=str(folder), gguf_file=name, batch_size=8))


def one_at_a_time(gen: HFGenerator) -> HFGenerator:
    """The same loaded model, generating each prompt alone (FastChat's loop)."""
    return HFGenerator(gen.model, gen.tokenizer, gen.template, batch_size=1)


class Recording:
    """A Generator that passes through to a real one and keeps every prompt and sampling param it saw."""

    def __init__(self, inner, fail_when: tuple[str, ...] = ()):
        self.inner = inner
        self.template = inner.template
        self.fail_when = fail_when  # prompts containing one of these fail (an injected generation error)
        self.prompts: list[str] = []
        self.params: list[SamplingParams] = []

    def generate(self, prompts, params):
        self.prompts += prompts
        self.params += params
        keep = [i for i, p in enumerate(prompts) if not self._fails(p)]
        texts = self.inner.generate([prompts[i] for i in keep], [params[i] for i in keep]) if keep else []
        out = [GenerationOutput(text=None, error="RuntimeError: CUDA out of memory (injected)")] * len(prompts)
        for i, t in zip(keep, texts, strict=True):
            out[i] = t
        return out

    def _fails(self, prompt: str) -> bool:
        return any(marker in prompt for marker in self.fail_when)


def mtbench(*args: str) -> subprocess.CompletedProcess:
    return cli.mtbench(*args, cwd=REPO)


# ---------------------------------------------------------------------------------------------------
# pure parts


def test_row_seed_is_stable_across_processes():
    here = [row_seed(0, qid, c, t) for qid in (81, 82) for c in (0, 1) for t in (0, 1)]
    assert len(set(here)) == len(here)
    code = "from mtbench.gen_model_answer import row_seed;print([row_seed(0,q,c,t) for q in (81,82) for c in (0,1) for t in (0,1)])"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "123"},
        check=True,
    )
    assert json.loads(other.stdout) == here
    assert row_seed(1, 81, 0, 0) != row_seed(0, 81, 0, 0)


@pytest.mark.parametrize(("n_items", "n"), [(80, 3), (80, 7), (5, 2), (2, 8), (1, 1), (16, 16)])
def test_balanced_shards(n_items, n):
    items = list(range(n_items))
    shards = balanced_shards(items, n)
    assert len(shards) == min(n, n_items)
    assert sorted(x for s in shards for x in s) == items
    sizes = [len(s) for s in shards]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_chunks_are_even():
    assert [len(c) for c in chunks_of(list(range(27)), 16)] == [14, 13]
    assert [len(c) for c in chunks_of(list(range(32)), 16)] == [16, 16]
    assert chunks_of([], 16) == []


def test_plan_caps_replicas_at_questions_and_balances(questions):
    plan = plan_replica_chunks(questions[:2], replicas=5, batch_size=16)
    assert len(plan) == 2 and all(len(chunks) == 1 for chunks in plan)
    plan = plan_replica_chunks(questions, replicas=3, batch_size=16)
    per_replica = [sum(len(c) for c in chunks) for chunks in plan]
    assert sorted(per_replica) == [26, 27, 27]
    assert sorted(q.question_id for chunks in plan for c in chunks for q in c) == [q.question_id for q in questions]


def test_replicas_must_divide():
    assert replica_count(4, 2) == 2
    with pytest.raises(UserError, match="multiple"):
        replica_count(3, 2)


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("Sure.\n### Human: next", ("###",), "Sure.\n"),
        ("a</s>b USER: c", ("</s>", "USER:"), "a"),
        ("no stop here", ("###",), "no stop here"),
        ("### at start", ("###",), ""),
    ],
)
def test_cut_at_stop_strings(text, stops, expected):
    assert cut_at_stop_strings(text, stops) == expected


# ---------------------------------------------------------------------------------------------------
# batching (tiny model)


def _mixed_prompts(gen, questions) -> list[str]:
    """Turn-1 prompts and turn-2 prompts (with a made-up first answer): lengths vary a lot."""
    first = [gen.template.render(conversation(q.turns, [])) for q in questions[::8]]
    second = [gen.template.render(conversation(q.turns, ["a short answer about it"])) for q in questions[3::10]]
    return first + second


@pytest.mark.slow
def test_batched_greedy_equals_one_at_a_time(tiny, questions):
    prompts = _mixed_prompts(tiny, questions)
    assert len(prompts) >= 16
    params = [SamplingParams(temperature=0.0, max_new_tokens=24, seed=0)] * len(prompts)
    batched = tiny.generate(prompts, params)
    alone = one_at_a_time(tiny).generate(prompts, params)
    assert [b.text for b in batched] == [a.text for a in alone]
    assert len({b.text for b in batched}) > 3  # the model says different things to different prompts


def test_batch_prefill_is_per_row_without_padding(tiny, questions, caplog):
    """The batch path really takes the unpadded prefill (a silent fallback to padded prefill would still
    pass the equality test above, only slower), reading the cache without transformers' deprecation."""
    import logging

    import transformers

    prompts = _mixed_prompts(tiny, questions)[:6]
    enc = tiny.tokenizer(prompts, return_tensors="pt", padding=True,
                         add_special_tokens=tiny.template.add_special_tokens)
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            cache = tiny._prefill_unpadded(enc["input_ids"], enc["attention_mask"])
    finally:
        transformers.logging.disable_propagation()
    assert cache is not None
    assert cache.get_seq_length() == enc["input_ids"].shape[1] - 1  # every prompt token but the last
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]


@pytest.mark.slow
def test_sampled_rows_depend_only_on_their_seed(tiny, questions):
    prompts = _mixed_prompts(tiny, questions)[:8]
    params = [SamplingParams(temperature=0.7, max_new_tokens=16, seed=1000 + i) for i in range(len(prompts))]
    batched = tiny.generate(prompts, params)
    alone = one_at_a_time(tiny).generate(prompts, params)
    assert [b.text for b in batched] == [a.text for a in alone]
    # Reversed order, other batch neighbours: the same draws.
    reversed_out = tiny.generate(prompts[::-1], params[::-1])
    assert [r.text for r in reversed_out][::-1] == [b.text for b in batched]
    reseeded = tiny.generate(prompts, [SamplingParams(0.7, 16, seed=p.seed + 1) for p in params])
    assert [r.text for r in reseeded] != [b.text for b in batched]
    greedy = tiny.generate(prompts, [SamplingParams(0.0, 16, seed=p.seed) for p in params])
    assert [g.text for g in greedy] != [b.text for b in batched]


def test_named_template_stop_strings_end_generation_and_cut_text(tiny, questions):
    """A named template's stop string stops generation there (fewer tokens) and cuts the text, batched or not."""
    plain = dataclasses.replace(NAMED_TEMPLATES["zero_shot"], stop_strings=())
    prompts = [plain.render(conversation(q.turns, [])) for q in questions[::10]]
    params = [SamplingParams(temperature=0.0, max_new_tokens=24, seed=0)] * len(prompts)
    full = HFGenerator(tiny.model, tiny.tokenizer, plain).generate(prompts, params)
    words = Counter(w for o in full for w in set(o.text.split()))
    stop = words.most_common(1)[0][0]  # a word most answers contain
    stopping = dataclasses.replace(plain, stop_strings=(stop,))
    batched = HFGenerator(tiny.model, tiny.tokenizer, stopping, batch_size=16).generate(prompts, params)
    alone = HFGenerator(tiny.model, tiny.tokenizer, stopping, batch_size=1).generate(prompts, params)
    assert [b.text for b in batched] == [a.text for a in alone]
    assert [b.text for b in batched] == [cut_at_stop_strings(f.text, (stop,)).strip() for f in full]
    assert all(b.new_tokens <= f.new_tokens for b, f in zip(batched, full, strict=True))
    assert sum(b.new_tokens < f.new_tokens for b, f in zip(batched, full, strict=True)) >= len(prompts) // 2
    record = answer_questions(HFGenerator(tiny.model, tiny.tokenizer, stopping), questions[:1], AnswerSettings("t", 4))
    assert record[0].extra["chat_template"] == "zero_shot"


def test_turn_two_prompt_holds_turn_one_answer_and_category_temperatures(tiny, questions):
    picked = [q for q in questions if q.question_id in (81, 111, 141)]
    rec = Recording(tiny)
    answers = answer_questions(rec, picked, AnswerSettings(model_id="tiny", max_new_token=12))
    assert len(rec.prompts) == 6  # all turn-1 prompts, then all turn-2 prompts
    for q, answer in zip(picked, answers, strict=True):
        assert answer.question_id == q.question_id and answer.error is None
        assert len(answer.turns) == 2
        turn2 = rec.prompts[3 + picked.index(q)]
        assert turn2 == tiny.template.render(conversation(q.turns, [answer.turns[0]]))
        assert answer.turns[0] in turn2
    assert [p.temperature for p in rec.params[:3]] == [category_temperature(q.category) for q in picked]
    assert [p.temperature for p in rec.params[:3]] == [0.7, 0.0, 0.1]


def test_failed_turn_is_a_failure_record_and_never_reaches_turn_two(tiny, questions, data_dir):
    by_id = {q.question_id: q for q in questions}
    # 82 fails on turn 2, 83 on turn 1 (as a CUDA OOM would); 81 is fine.
    rec = Recording(tiny, fail_when=(by_id[82].turns[1], by_id[83].turns[0]))
    cfg = GenAnswerConfig(
        model=ModelSpec(path="unused"),
        answers=AnswerSettings(model_id="tiny", max_new_token=8),
        layout=BenchLayout(data_dir=data_dir),
        question_end=3,
        progress=False,
    )
    summary = gen_model_answer(cfg, generator_factory=lambda spec: rec)
    assert (summary.written, summary.failed) == (3, 2)
    answers = load_answers(cfg.output_file)
    assert answers[81].error is None and len(answers[81].turns) == 2
    assert answers[82].error.startswith("turn 2: RuntimeError") and len(answers[82].turns) == 1
    assert answers[83].error.startswith("turn 1: RuntimeError") and answers[83].turns == ()
    assert not any(by_id[83].turns[1] in p for p in rec.prompts)  # no turn 2 built on a failed turn 1
    assert "ERROR" not in cfg.output_file.read_text()

    # A rerun keeps failures unless asked; --retry-failed redoes exactly those.
    again = gen_model_answer(cfg, generator_factory=lambda spec: Recording(tiny))
    assert (again.skipped, again.written) == (3, 0)
    retried = gen_model_answer(
        dataclasses.replace(cfg, retry_failed=True), generator_factory=lambda spec: Recording(tiny)
    )
    assert (retried.skipped, retried.written, retried.failed) == (1, 2, 0)
    answers = load_answers(cfg.output_file)
    assert all(a.error is None and len(a.turns) == 2 for a in answers.values())
    assert [line["question_id"] for line in answer_lines(cfg.output_file)] == [81, 82, 83]


def test_every_generation_failing_is_run_failed(tiny, data_dir):
    from mtbench.core.errors import RunFailed

    rec = Recording(tiny, fail_when=("<|im_start|>assistant\n",))
    cfg = GenAnswerConfig(
        model=ModelSpec(path="unused"),
        answers=AnswerSettings(model_id="tiny", max_new_token=4),
        layout=BenchLayout(data_dir=data_dir),
        question_end=2,
        progress=False,
    )
    with pytest.raises(RunFailed, match="every generation failed"):
        gen_model_answer(cfg, generator_factory=lambda spec: rec)
    assert all(a.failed for a in load_answers(cfg.output_file).values())


# ---------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct (real chat model, GGUF)


@pytest.mark.model
def test_smollm_answers_both_turns_in_fastchat_format(smol, data_dir):
    rec = Recording(smol)
    cfg = GenAnswerConfig(
        model=ModelSpec(path="unused"),
        answers=AnswerSettings(model_id="smollm2-135m", max_new_token=16),
        layout=BenchLayout(data_dir=data_dir),
        progress=False,
    )
    picked = [q for q in load_questions(cfg.layout.question_file) if q.question_id in (81, 111, 141)]
    # The questions file trimmed to three (writing: sampled, math: greedy, stem: 0.1).
    cfg.layout.question_file.write_text("".join(json.dumps(q.to_json()) + "\n" for q in picked))
    summary = gen_model_answer(cfg, generator_factory=lambda spec: rec)
    assert (summary.written, summary.failed) == (3, 0)

    lines = answer_lines(data_dir / "mt_bench" / "model_answer" / "smollm2-135m.jsonl")
    assert [line["question_id"] for line in lines] == [81, 111, 141]
    for line in lines:
        assert list(line)[:5] == ["question_id", "answer_id", "model_id", "choices", "tstamp"]
        assert len(line["answer_id"]) == 22 and line["model_id"] == "smollm2-135m"
        assert line["chat_template"] == "tokenizer" and "error" not in line
        turns = line["choices"][0]["turns"]
        assert line["choices"][0]["index"] == 0 and len(turns) == 2 and all(t.strip() for t in turns)
        assert not any(s in t for t in turns for s in ("<|im_end|>", "<|im_start|>", "<|endoftext|>"))
        Answer.from_json(line)
    # Turn 2's prompt is SmolLM's own chat format and carries the model's turn-1 answer.
    for line, q in zip(lines, picked, strict=True):
        turn2 = next(p for p in rec.prompts if q.turns[1] in p)
        assert line["choices"][0]["turns"][0] in turn2
        assert turn2.startswith("<|im_start|>system\n") and turn2.endswith("<|im_start|>assistant\n")


@pytest.mark.model
@pytest.mark.heavy  # make test checks the same with the tiny model: test_batched_greedy_equals_one_at_a_time
def test_smollm_batched_greedy_equals_one_at_a_time(smol, questions):
    prompts = [smol.template.render(conversation(q.turns, [])) for q in questions[5::13]]
    params = [SamplingParams(temperature=0.0, max_new_tokens=16, seed=0)] * len(prompts)
    assert len(prompts) == 6
    batched = smol.generate(prompts, params)
    alone = one_at_a_time(smol).generate(prompts, params)
    assert [b.text for b in batched] == [a.text for a in alone]


# ---------------------------------------------------------------------------------------------------
# the CLI end to end (tiny model): resume, retry, kill, Ray


def test_cli_writes_resumes_and_retries(tiny_model_dir, data_dir):
    args = ["gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir", str(data_dir),
            "--question-begin", "10", "--question-end", "14", "--max-new-token", "8"]
    first = mtbench(*args)
    assert first.returncode == 0, first.stderr
    path = data_dir / "mt_bench" / "model_answer" / "tiny.jsonl"
    lines = answer_lines(path)
    assert [line["question_id"] for line in lines] == [91, 92, 93, 94]
    assert lines[0]["engine"] == "hf" and lines[0]["generation"] == {
        "dtype": None, "device": "auto", "batch_size": 16, "max_new_token": 8, "seed": 0, "revision": "main"}

    # Mark one answer failed on disk: a plain rerun keeps it, --retry-failed regenerates only it.
    lines[1] = {**lines[1], "choices": [{"index": 0, "turns": []}], "error": "turn 1: RuntimeError: boom"}
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    again = mtbench(*args)
    assert again.returncode == 0 and "4 already answered" in again.stderr, again.stderr
    assert answer_lines(path) == lines
    retry = mtbench(*args, "--retry-failed")
    assert retry.returncode == 0 and "1 answered now (0 failed)" in retry.stderr, retry.stderr
    final = answer_lines(path)
    assert [line["question_id"] for line in final] == [91, 92, 93, 94]
    assert "error" not in final[1] and len(final[1]["choices"][0]["turns"]) == 2
    assert [final[i] for i in (0, 2, 3)] == [lines[i] for i in (0, 2, 3)]


def test_cli_bad_flags_are_one_line_errors(tiny_model_dir, data_dir):
    base = ["gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir", str(data_dir)]
    for extra, needle in [
        (["--num-gpus-total", "3", "--num-gpus-per-model", "2"], "--num-gpus-total 3"),
        (["--chat-template", "nope"], "--chat-template 'nope'"),
    ]:
        out = mtbench(*base, *extra)
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and needle in out.stderr, out.stderr
    missing = mtbench("gen-answer", "--model-path", str(data_dir / "nowhere"), "--model-id", "x",
                      "--data-dir", str(data_dir))
    assert missing.returncode == 2 and "--model-path" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_cli_killed_mid_run_then_rerun_answers_every_question_once(tiny_model_dir, data_dir):
    args = ["gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir", str(data_dir),
            "--question-end", "12", "--max-new-token", "16", "--batch-size", "1", "--no-progress"]
    path = data_dir / "mt_bench" / "model_answer" / "tiny.jsonl"
    before = kill_after_lines(args, path, 3, env={"TOKENIZERS_PARALLELISM": "false"})
    assert 3 <= before < 12
    rerun = mtbench(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{before} already answered" in rerun.stderr, rerun.stderr
    ids = [line["question_id"] for line in answer_lines(path)]
    assert ids == sorted(ids) and len(ids) == 12 and len(set(ids)) == 12


@pytest.mark.ray
def test_ray_two_cpu_replicas_match_one_replica(tiny, tiny_model_dir, data_dir):
    out = cli.mtbench_process(
        "gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "ray2", "--data-dir", str(data_dir),
        "--question-end", "5", "--max-new-token", "12", "--batch-size", "2", "--num-gpus-total", "2", "--device",
        "cpu", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "on 2 replica(s)" in out.stderr
    ray_lines = answer_lines(data_dir / "mt_bench" / "model_answer" / "ray2.jsonl")

    cfg = GenAnswerConfig(
        model=ModelSpec(path=str(tiny_model_dir)),
        answers=AnswerSettings(model_id="one", max_new_token=12),
        layout=BenchLayout(data_dir=data_dir),
        question_end=5,
        progress=False,
    )
    gen_model_answer(cfg, generator_factory=lambda spec: tiny)
    one_lines = answer_lines(cfg.output_file)
    assert [line["question_id"] for line in ray_lines] == [81, 82, 83, 84, 85]
    # Writing questions sample at 0.7: per-row seeds make even those identical across replica counts.
    assert [line["choices"] for line in ray_lines] == [line["choices"] for line in one_lines]


@pytest.mark.heavy
@pytest.mark.ray
def test_ray_more_replicas_than_questions(tiny_model_dir, data_dir):
    out = cli.mtbench_process(
        "gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "ray3", "--data-dir", str(data_dir),
        "--question-begin", "30", "--question-end", "32", "--max-new-token", "6", "--num-gpus-total", "3",
        "--device", "cpu", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "on 2 replica(s)" in out.stderr
    lines = answer_lines(data_dir / "mt_bench" / "model_answer" / "ray3.jsonl")
    assert [line["question_id"] for line in lines] == [111, 112]
    assert all(len(line["choices"][0]["turns"]) == 2 for line in lines)


# ---------------------------------------------------------------------------------------------------
# temperatures, the generation seam, bad flags and paths, Ctrl-C, read-only and full disks


def test_temperature_used_per_category_and_required_temperature(tiny, data_dir):
    """The SamplingParams the engine gets: each category's temperature on both turns, and a question's
    own required_temperature over its category's (as gen-api-answer does; bench.question_temperature)."""
    layout = BenchLayout(data_dir=data_dir)
    every = load_questions(layout.question_file)
    one_per_category = list({q.category: q for q in every}.values())
    assert len(one_per_category) == 8
    writing = one_per_category[0]
    assert writing.category == "writing"
    required = dataclasses.replace(writing, question_id=9001, required_temperature=0.3,
                                   turns=("Write a haiku about rain.", "Now one about snow."))
    picked = [*one_per_category, required]
    layout.question_file.write_text("".join(json.dumps(q.to_json()) + "\n" for q in picked))
    rec = Recording(tiny)
    cfg = GenAnswerConfig(model=ModelSpec(path="unused"), answers=AnswerSettings(model_id="t", max_new_token=2),
                          layout=layout, progress=False)
    gen_model_answer(cfg, generator_factory=lambda spec: rec)
    used = {}
    for prompt, params in zip(rec.prompts, rec.params, strict=True):
        (q,) = [q for q in picked if q.turns[0] in prompt]
        used[q.question_id, 2 if q.turns[1] in prompt else 1] = params.temperature
    assert used == {(q.question_id, turn): t for q, t in [
        *((q, category_temperature(q.category)) for q in one_per_category), (required, 0.3)] for turn in (1, 2)}
    assert {q.category: used[q.question_id, 1] for q in one_per_category} == {
        "writing": 0.7, "roleplay": 0.7, "reasoning": 0.0, "math": 0.0, "coding": 0.0, "extraction": 0.0,
        "stem": 0.1, "humanities": 0.1}


def test_generator_reports_token_counts_and_finish_reasons(tiny, questions):
    """The seam's outputs say how many tokens went in and out, and why each row ended."""
    plain = dataclasses.replace(NAMED_TEMPLATES["zero_shot"], stop_strings=())
    prompts = [plain.render(conversation(q.turns, [])) for q in questions[::4]]
    params = [SamplingParams(temperature=0.0, max_new_tokens=24, seed=0)] * len(prompts)
    unstopped = HFGenerator(tiny.model, tiny.tokenizer, plain)
    full = unstopped.generate(prompts, params)
    assert [o.prompt_tokens for o in full] == unstopped.prompt_lengths(prompts)
    assert all((o.finish_reason == "length") == (o.new_tokens == 24) for o in full)
    words = Counter(w for o in full for w in set(o.text.split()))
    stop = min(words, key=lambda w: (abs(words[w] - len(full) / 2), w))  # a word about half the answers hold
    stopping = dataclasses.replace(plain, stop_strings=(stop,))
    cut = HFGenerator(tiny.model, tiny.tokenizer, stopping).generate(prompts, params)
    expected = ["stop" if stop in f.text or f.finish_reason == "stop" else "length" for f in full]
    assert [o.finish_reason for o in cut] == expected
    assert set(expected) == {"stop", "length"}
    assert GenerationOutput.failure("boom").finish_reason == "error"


@pytest.mark.parametrize("size", ["40GiB", "40GB", "4000MiB", "0.5GiB", "512MB"])
def test_memory_sizes_accelerate_reads_are_accepted(size):
    assert ModelSpec(path="m", max_gpu_memory=size).max_gpu_memory == size


@pytest.mark.parametrize("size", ["lots", "40", "40G", "-1GiB", "0GiB", "40Gb", "GiB"])
def test_bad_memory_sizes_are_refused_naming_the_flag(size):
    with pytest.raises(UserError, match="^max_gpu_memory .* e.g. 40GiB"):
        ModelSpec(path="m", max_gpu_memory=size)


def test_gpu_flags_without_a_gpu():
    def cfg(**kw):
        device = kw.pop("device", "auto")
        return GenAnswerConfig(model=ModelSpec(path="m", device=device), answers=AnswerSettings("m"), **kw)

    assert "no CUDA GPU is visible" in gpu_flags_problem(cfg(num_gpus_total=2), 0)
    assert "--device cpu" in gpu_flags_problem(cfg(num_gpus_total=2), 0)
    assert "--device cuda" in gpu_flags_problem(cfg(device="cuda"), 0)
    assert gpu_flags_problem(cfg(num_gpus_total=2, device="cpu"), 0) is None  # CPU replicas, as asked
    assert gpu_flags_problem(cfg(), 0) is None  # one replica: auto means CPU here
    assert gpu_flags_problem(cfg(num_gpus_total=2), 2) is None
    assert "only 1" in gpu_flags_problem(cfg(num_gpus_total=2), 1)
    assert "Ray cluster" in gpu_flags_problem(cfg(num_gpus_total=2), 0, where="in the Ray cluster")


def test_cli_gpu_flags_on_a_cpu_only_machine(tiny_model_dir, data_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    base = ["gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir", str(data_dir),
            "--question-end", "1", "--max-new-token", "2", "--no-progress"]
    refused = mtbench(*base, "--num-gpus-total", "2")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "no CUDA GPU is visible" in refused.stderr
    assert "--device cpu" in refused.stderr and "--num-cpus-per-replica" in refused.stderr
    assert not (data_dir / "mt_bench" / "model_answer" / "tiny.jsonl").exists()
    memory = mtbench(*base, "--max-gpu-memory", "lots")
    assert memory.returncode == 2 and memory.stderr.count("\n") == 1 and "--max-gpu-memory 'lots'" in memory.stderr
    ignored = mtbench(*base, "--max-gpu-memory", "40GiB")
    assert ignored.returncode == 0, ignored.stderr
    assert "--max-gpu-memory only caps a model split over GPUs" in ignored.stderr


def test_model_location_problems_are_named(tmp_path, tiny_model_dir):
    def problem(path, gguf=None) -> str:
        with pytest.raises(UserError) as e:
            check_model_location(ModelSpec(path=str(path), gguf_file=gguf))
        return str(e.value)

    assert problem(tmp_path / "nowhere") == f"--model-path {tmp_path / 'nowhere'}: no such folder"
    assert "not a model folder (it has no config.json)" in problem(tmp_path)
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert "a file, not a model folder; pass its folder as --model-path and --gguf-file m.gguf" in problem(
        tmp_path / "m.gguf")
    assert "for a GGUF model add --gguf-file (it holds m.gguf)" in problem(tmp_path)
    assert problem(tmp_path, "other.gguf") == f"--gguf-file other.gguf: no such file in {tmp_path} (its GGUF files: m.gguf)"
    no_tokenizer = tmp_path / "weights-only"
    no_tokenizer.mkdir()
    (no_tokenizer / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    assert "the folder has no tokenizer" in problem(no_tokenizer)
    check_model_location(ModelSpec(path=str(tiny_model_dir)))
    check_model_location(ModelSpec(path="some-org/some-model"))  # a hub id: left to transformers (the cache)


@pytest.mark.slow
def test_cli_model_path_errors_are_one_line_exit_2(tmp_path, data_dir, monkeypatch):
    base = ["gen-answer", "--model-id", "x", "--data-dir", str(data_dir), "--no-progress"]
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    for args, needle in [
        (["--model-path", str(tmp_path / "nowhere")], "no such folder"),
        (["--model-path", str(data_dir)], "not a model folder (it has no config.json)"),
        (["--model-path", str(tmp_path), "--gguf-file", "b.gguf"], "--gguf-file b.gguf: no such file in"),
    ]:
        out = mtbench(*base, *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and needle in out.stderr, out.stderr
        assert "Repo id" not in out.stderr and "huggingface.co" not in out.stderr
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: its constant is what HF_HUB_OFFLINE=1 would have set
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    hub = mtbench(*base, "--model-path", "no-such-org/no-such-model")
    assert hub.returncode == 2 and hub.stderr.count("\n") == 1, hub.stderr
    assert "not a local folder, and no hub model of that name could be loaded" in hub.stderr


def _interruptible() -> None:
    """The child's SIGINT back to the default (an ignored SIGINT is inherited, and Python then installs no
    KeyboardInterrupt handler: a test process started in the background would pass that on)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lowest_priority(pid: int) -> None:
    """Every thread of ``pid`` (torch's workers too: Linux sets priority per thread) at the lowest priority."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), 19)


@pytest.mark.slow
def test_cli_ctrl_c_during_turn_one_leaves_no_empty_file_and_rerun_completes(tiny_model_dir, data_dir):
    """SIGINT while the first chunk is still generating: exit 130, no 0-byte answer file, a rerun finishes.
    (Finished turn-1 texts are kept in tiny.jsonl.partial: tests/test_partial_turns.py checks the rerun's prompts.)"""
    args = ["gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir", str(data_dir),
            "--question-end", "16", "--max-new-token", "96", "--batch-size", "16", "--no-progress"]
    path = data_dir / "mt_bench" / "model_answer" / "tiny.jsonl"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "mtbench", *args], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not path.exists():
            time.sleep(0.02)  # the answer file is opened once the model is loaded, as generation starts
        assert proc.poll() is None and path.exists(), "the run ended before it could be interrupted"
        # Generating at the lowest priority (loading at the normal one: imports are most of its work): on a
        # loaded machine its threads would otherwise keep this test from signalling before the (fast, tiny)
        # generation is over.
        _lowest_priority(proc.pid)
        assert path.stat().st_size == 0
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted; rerun the same command to resume" in stderr and "Traceback" not in stderr
    assert not path.exists() or path.stat().st_size > 0
    rerun = mtbench(*args)
    assert rerun.returncode == 0, rerun.stderr
    ids = [line["question_id"] for line in answer_lines(path)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 16


def test_read_only_answer_folder_is_refused_before_the_model_loads(small_disk, tmp_path, tiny_model_dir, data_dir):
    folder = tmp_path / "answers"
    small_disk(folder).read_only()

    def never(spec):
        raise AssertionError("the model was loaded before the answer file was checked")

    cfg = GenAnswerConfig(model=ModelSpec(path=str(tiny_model_dir)), answers=AnswerSettings("tiny"),
                          layout=BenchLayout(data_dir=data_dir), answer_file=folder / "tiny.jsonl", progress=False)
    with pytest.raises(UserError, match="cannot write .*Read-only file system"):
        gen_model_answer(cfg, generator_factory=never)
    out = mtbench("gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir",
                  str(data_dir), "--answer-file", str(folder / "tiny.jsonl"), "--no-progress")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"cannot write {folder / 'tiny.jsonl'}" in out.stderr


def test_full_disk_is_one_line_naming_the_answer_file(small_disk, tmp_path, tiny_model_dir, data_dir):
    folder = tmp_path / "answers"
    disk = small_disk(folder, size_kib=64)
    with contextlib.suppress(OSError):  # fill() itself may end on ENOSPC when its file is closed
        disk.fill()
    answer_file = folder / "tiny.jsonl"
    out = mtbench("gen-answer", "--model-path", str(tiny_model_dir), "--model-id", "tiny", "--data-dir",
                  str(data_dir), "--answer-file", str(answer_file), "--question-end", "2", "--max-new-token", "4",
                  "--no-progress")
    assert out.returncode == 1, out.stderr
    ours = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("Loading weights")]
    assert ours == [f"mtbench gen-answer: error: {answer_file}: No space left on device"], out.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name != ".filler") in ([], [".tiny.jsonl.lock"]), list(
        folder.iterdir())
