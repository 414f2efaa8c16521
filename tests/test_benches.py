"""Benchmarks other than MT-bench (issue 25): download, manifests, Japanese MT-bench as its fork runs it, answer
language, vicuna_bench, and a bench of the user's own, each through the real CLI against a loopback server.

The benches' files are read from ../shared/benchmarks (byte-exact copies of the upstream blobs, SOURCE.md).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import math
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest

from mtbench.core.language import identify, penalized
from mtbench.core.manifest import load_shipped, parse_manifest
from mtbench.core.record_files import load_single_judgments
from tests.cli import mtbench
from tests.conftest import MT_BENCH_DATA, SHARED

BENCHES = SHARED / "benchmarks"
JA = BENCHES / "japanese_mt_bench"
KEY = "sk-bench-test"
ENV = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": None}
FORK_NEED_REF = ("math", "reasoning", "coding")  # the fork's NEED_REF_CATS (common.py at e37eb28)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def download(data_dir: Path, bench: str, *args: str):
    return mtbench("download", "--data-dir", data_dir, "--bench-name", bench, *args, env=ENV)


def judge(data_dir: Path, server, bench: str, *args: str):
    return mtbench("judge", "--data-dir", data_dir, "--bench-name", bench, "--judge-base-url", server.base_url,
                   "--no-progress", *args, env=ENV)


def show(data_dir: Path, bench: str, *args: str):
    return mtbench("show", "--data-dir", data_dir, "--bench-name", bench, "--bootstrap", "50", *args, env=ENV)


@pytest.fixture()
def ja_data(tmp_path: Path) -> Path:
    """Japanese MT-bench downloaded offline from its shared folder, with the fork's three answer files."""
    data = tmp_path / "data"
    out = download(data, "japanese_mt_bench", "--from", JA)
    assert out.returncode == 0, out.stderr
    shutil.copytree(JA / "model_answer", data / "japanese_mt_bench" / "model_answer")
    return data


# ---------------------------------------------------------------------------------------------------
# 1. download


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def raw_github(tmp_path: Path):
    """A loopback HTTP server laid out as raw.githubusercontent.com: OWNER/REPO/COMMIT/PATH, for every file the
    shipped manifests pin (copied from ../shared/benchmarks and ../shared/mt_bench)."""
    root = tmp_path / "raw"
    for name in ("vicuna_bench", "japanese_mt_bench", "mt_bench_101"):
        for f in load_shipped(name).downloads:
            rel = f.path[len(name) + 1:] if f.path.startswith(name + "/") else f.path
            local = BENCHES / name / rel
            if not local.is_file():  # vicuna_bench's judge_prompts.jsonl is MT-bench's
                local = MT_BENCH_DATA / rel
            target = root / f.repository / f.commit / f.remote
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(local, target)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bench", ["vicuna_bench", "japanese_mt_bench", "mt_bench_101"])
def test_download_each_bench_over_http_then_a_rerun_is_a_no_op(tmp_path, raw_github, bench):
    url, _ = raw_github
    data = tmp_path / "data"
    out = download(data, bench, "--github-base-url", url)
    assert out.returncode == 0, out.stderr
    files = load_shipped(bench).downloads
    for f in files:
        assert hashlib.sha256((data / f.path).read_bytes()).hexdigest() == f.sha256
    assert out.stdout.count("fetched from github, sha256 verified") == len(files)
    again = download(data, bench, "--github-base-url", url)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_download_offline_from_the_shared_folders_and_nothing_partial_on_a_bad_file(tmp_path, raw_github):
    data = tmp_path / "data"
    for bench in ("japanese_mt_bench", "mt_bench_101"):
        out = download(data, bench, "--from", BENCHES / bench, "--source", "local")
        assert out.returncode == 0, out.stderr
    assert (data / "judge_ja_prompts.jsonl").read_bytes() == (JA / "judge_ja_prompts.jsonl").read_bytes()
    # vicuna_bench is judged with MT-bench's judge_prompts.jsonl, which its shared folder does not hold
    out = download(data, "vicuna_bench", "--from", BENCHES / "vicuna_bench", "--source", "local")
    assert out.returncode != 0 and "judge_prompts.jsonl" in out.stderr and len(out.stderr.splitlines()) == 1
    assert not (data / "vicuna_bench").exists()  # nothing partial: the question file was not kept either

    # a reference file corrupted upstream: one line naming it, nothing of the bench written
    url, root = raw_github
    ref = next(f for f in load_shipped("vicuna_bench").downloads if "reference" in f.path)
    (root / ref.repository / ref.commit / ref.remote).write_bytes(b"{}\n")
    out = download(tmp_path / "other", "vicuna_bench", "--github-base-url", url)
    assert out.returncode != 0 and "sha256" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "other" / "vicuna_bench").exists()
    assert list((tmp_path / "other").rglob("*.jsonl")) == []


def test_download_refuses_what_a_bench_does_not_have(tmp_path):
    out = download(tmp_path, "my_bench")
    assert out.returncode == 2 and "download knows mt_bench, japanese_mt_bench, mt_bench_101, vicuna_bench" \
        in out.stderr
    out = download(tmp_path, "vicuna_bench", "--source", "pypi")
    assert out.returncode == 2 and "MT-bench only" in out.stderr


# ---------------------------------------------------------------------------------------------------
# 3. Japanese MT-bench, byte-exact with the fork's gen_judgment


def fork_prompts(data: Path, models: list[str], reference: str = "gpt-4",
                 question_file: str = "question_full.jsonl") -> Counter:
    """What the fork's gen_judgment.py (e37eb28, default --turns-to-eval) sends, computed here from the raw
    files as its common.py does: turn 1 only, single-v1 or single-math-v1 by NEED_REF_CATS, str.format with
    ref_answer_1/2 from the reference named after the judge, the system prompt first."""
    prompts = {p["name"]: p for p in rows(data / "judge_ja_prompts.jsonl")}
    questions = rows(data / "japanese_mt_bench" / question_file)
    refs = {int(r["question_id"]): r for r in rows(data / "japanese_mt_bench" / "reference_answer" /
                                                    f"{reference}.jsonl")}
    sent: Counter = Counter()
    for model in models:
        answers = {int(a["question_id"]): a for a in rows(data / "japanese_mt_bench" / "model_answer" /
                                                          f"{model}.jsonl")}
        for q in questions:
            qid = int(q["question_id"])
            kwargs = {}
            name = "single-v1"
            if q["category"] in FORK_NEED_REF:
                name = "single-math-v1"
                kwargs = {"ref_answer_1": refs[qid]["choices"][0]["turns"][0],
                          "ref_answer_2": refs[qid]["choices"][0]["turns"][1]}
            user = prompts[name]["prompt_template"].format(
                question=q["turns"][0], answer=answers[qid]["choices"][0]["turns"][0], **kwargs)
            sent[(prompts[name]["system_prompt"], user)] += 1
    return sent


def wire(server) -> Counter:
    out: Counter = Counter()
    for r in server.chat_requests:
        messages = r.body["messages"]
        assert [m["role"] for m in messages] == ["system", "user"]
        out[(messages[0]["content"], messages[1]["content"])] += 1
    return out


MODELS = ["gpt-4", "gpt-4o", "japanese-stablelm-instruct-alpha-7b"]


@pytest.mark.slow  # 240 judge calls and the language of each judged turn: ~20 s
def test_japanese_judge_prompts_byte_exact_with_the_fork_and_show(ja_data, openai_server, caplog):
    openai_server.responder = lambda body: "よい回答です。\n\n評価：[[8]]"
    out = judge(ja_data, openai_server, "japanese_mt_bench", "--parallel", "16")
    assert out.returncode == 0, out.stderr
    assert len(openai_server.chat_requests) == 80 * 3  # 80 questions (question_full), turn 1 only, 3 models
    assert wire(openai_server) == fork_prompts(ja_data, MODELS)
    # the fork's string question ids were normalized, and said so in one line
    assert "80 question id(s) written as strings, read as integers" in out.stderr
    records = load_single_judgments(ja_data / "japanese_mt_bench" / "model_judgment" / "gpt-4_single.jsonl")
    assert {r.score for r in records} == {8} and {r.turn for r in records} == {1}
    assert Counter(r.judge[1] for r in records) == Counter({"single-v1": 150, "single-math-v1": 90})
    assert {r.extra["expected_language"] for r in records} == {"ja"}

    out = show(ja_data, "japanese_mt_bench", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    note = next(n for n in report["notes"] if n.startswith("answer language"))
    assert "judged turns not in 'ja'" in note and "japanese-stablelm-instruct-alpha-7b" in note


def test_japanese_second_reference_and_the_60_question_file(ja_data, openai_server):
    openai_server.responder = lambda body: "評価：[[6]]"
    ref = "base-gpt4o-with-human-annotation"
    out = judge(ja_data, openai_server, "japanese_mt_bench", "--model-list", "gpt-4o", "--reference", ref,
                "--questions", "question.jsonl")
    assert out.returncode == 0, out.stderr
    questions = rows(ja_data / "japanese_mt_bench" / "question.jsonl")
    assert len(openai_server.chat_requests) == len(questions) == 60
    assert wire(openai_server) == fork_prompts(ja_data, ["gpt-4o"], ref, "question.jsonl")


def test_japanese_refuses_pairwise_in_one_line(ja_data, openai_server):
    out = judge(ja_data, openai_server, "japanese_mt_bench", "--mode", "pairwise-all")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no pair judge prompts" in out.stderr
    assert openai_server.chat_requests == []


# ---------------------------------------------------------------------------------------------------
# 4. answer language


def test_language_of_every_turn_in_the_forks_three_answer_files():
    """How many turns of the fork's published answers are not Japanese (code-only turns: undetermined)."""
    counts = {}
    for model in MODELS:
        langs = [identify(t) for a in rows(JA / "model_answer" / f"{model}.jsonl") for t in a["choices"][0]["turns"]]
        counts[model] = (len(langs), sum(lang not in ("ja", None) for lang in langs), langs.count(None))
    print(counts)
    assert counts["gpt-4"][0] == counts["gpt-4o"][0] == 160 and counts["japanese-stablelm-instruct-alpha-7b"][0] == 80
    # (turns, not Japanese, undetermined) with py3langid 0.4.0. What is left are misreadings: GPT-4's q77 turn 2
    # is five kanji words (read as zh); the 7B model's four are code without fences and broken JSON (q1, 2, 18, 19).
    assert counts == {"gpt-4": (160, 1, 9), "gpt-4o": (160, 0, 8), "japanese-stablelm-instruct-alpha-7b": (80, 4, 9)}
    assert identify("これは日本語の文章です。とても良い天気ですね。") == "ja"
    assert identify("This answer is written in English, not Japanese.") == "en"
    assert identify("```python\nprint('hi')\n```") is None and identify('{"score": 4}') is None


def test_language_penalties_as_published():
    assert penalized(9, True, "none") == 9 and penalized(9, False, "sqrt") == 9
    assert penalized(9, True, "zero") == 1  # Finnish MT-Bench: a mismatch scores [[1]]
    assert penalized(9, True, "sqrt") == 3 and penalized(2, True, "sqrt") == pytest.approx(math.sqrt(2))  # KoMT


def test_show_applies_the_language_penalty_to_wrong_language_turns(tmp_path, openai_server):
    """Two models, one answering in English on 2 of 4 questions: hand-computed means under each penalty."""
    data = tmp_path / "data"
    bench = data / "ja_tiny"
    (bench / "model_answer").mkdir(parents=True)
    shutil.copy(JA / "judge_ja_prompts.jsonl", data / "judge_ja_prompts.jsonl")
    (bench / "bench.json").write_text(json.dumps({
        "judge_prompts": "judge_ja_prompts.jsonl", "language": "ja", "judged_turns": [1],
        "prompts": {"single": {"general": "single-v1", "reference": "single-math-v1"}}}))
    ja_text, en_text = "日本の首都は東京です。とても大きな都市です。", "The capital of Japan is Tokyo, a very large city."
    qs = [{"question_id": i, "category": "writing", "turns": [f"質問{i}です。答えてください。"]} for i in range(1, 5)]
    (bench / "question.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in qs))
    for model, texts in (("good", [ja_text] * 4), ("mixed", [ja_text, en_text, ja_text, en_text])):
        (bench / "model_answer" / f"{model}.jsonl").write_text("".join(
            json.dumps({"question_id": i, "model_id": model, "choices": [{"index": 0, "turns": [t]}]},
                       ensure_ascii=False) + "\n" for i, t in enumerate(texts, 1)))
    openai_server.responder = lambda body: "評価：[[9]]"
    assert judge(data, openai_server, "ja_tiny").returncode == 0
    means = {}
    for penalty in ("none", "zero", "sqrt"):
        out = show(data, "ja_tiny", "--format", "json", "--language-penalty", penalty)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        means[penalty] = {r["model"]: r["overall"] for r in report["models"]}
        assert any("mixed 2/4 (50.0%)" in n and "good 0/4 (0.0%)" in n for n in report["notes"])
    assert means["none"] == {"good": 9, "mixed": 9}
    assert means["zero"] == {"good": 9, "mixed": (9 + 1 + 9 + 1) / 4}
    assert means["sqrt"] == {"good": 9, "mixed": (9 + 3 + 9 + 3) / 4}


# ---------------------------------------------------------------------------------------------------
# 6. vicuna_bench: one turn, its own categories, single and pairwise against a baseline


@pytest.mark.slow  # 160 answers, 80 single and 160 pairwise judge calls: ~15 s
def test_vicuna_answers_single_and_pairwise(tmp_path, openai_server):
    data = tmp_path / "data"
    shutil.copy(MT_BENCH_DATA / "judge_prompts.jsonl", data.mkdir() or data / "judge_prompts.jsonl")
    out = download(data, "vicuna_bench", "--from", BENCHES / "vicuna_bench")
    assert out.returncode == 0, out.stderr
    openai_server.responder = lambda body: f"answer to: {body['messages'][-1]['content'][:30]}"
    for model in ("model-a", "baseline"):
        out = mtbench("gen-api-answer", "--data-dir", data, "--bench-name", "vicuna_bench", "--model", model,
                      "--openai-api-base", openai_server.base_url, "--no-progress", env=ENV)
        assert out.returncode == 0, out.stderr
    questions = rows(data / "vicuna_bench" / "question.jsonl")
    assert len(openai_server.chat_requests) == 2 * 80  # one turn per question
    by_text = {q["turns"][0]: q["category"] for q in questions}
    temps = {(by_text[r.body["messages"][-1]["content"]], r.body["temperature"]) for r in openai_server.chat_requests}
    assert temps == {(c, 0.0 if c in ("math", "coding") else 0.7) for c in set(by_text.values())}

    openai_server.requests.clear()
    openai_server.responder = lambda body: "Rating: [[7]]"
    out = judge(data, openai_server, "vicuna_bench", "--model-list", "model-a")
    assert out.returncode == 0, out.stderr
    records = load_single_judgments(data / "vicuna_bench" / "model_judgment" / "gpt-4_single.jsonl")
    assert len(records) == 80 and {r.turn for r in records} == {1}
    assert Counter(r.judge[1] for r in records) == Counter({"single-v1": 70, "single-math-v1": 10})
    assert all(r.extra["reference"] == "gpt-4" for r in records if r.judge[1] == "single-math-v1")

    openai_server.responder = lambda body: "[[A]]"
    out = judge(data, openai_server, "vicuna_bench", "--mode", "pairwise-baseline", "--baseline-model", "baseline",
                "--model-list", "model-a")
    assert out.returncode == 0, out.stderr
    out = show(data, "vicuna_bench", "--mode", "pairwise-baseline", "--baseline-model", "baseline",
               "--format", "json")
    assert out.returncode == 0, out.stderr
    out = show(data, "vicuna_bench", "--format", "json", "--plot", tmp_path / "radar.png")
    assert out.returncode == 0, out.stderr
    cats = json.loads(out.stdout)["by_category"]
    assert set(cats) >= {"generic", "fermi", "counterfactual", "common-sense"} or "fermi" in json.dumps(cats)
    assert (tmp_path / "radar.png").stat().st_size > 10_000


# ---------------------------------------------------------------------------------------------------
# 2. a bench of one's own, and the manifest's bad inputs


def own_bench(data: Path, manifest: dict | None) -> Path:
    bench = data / "legal_bench"
    (bench / "reference_answer").mkdir(parents=True)
    shutil.copy(MT_BENCH_DATA / "judge_prompts.jsonl", data / "judge_prompts.jsonl")
    questions = [{"question_id": i, "category": "contracts" if i <= 2 else "tax",
                  "turns": [f"Question {i}, first turn?", f"Question {i}, second turn?"]} for i in range(1, 5)]
    (bench / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    (bench / "reference_answer" / "gpt-4.jsonl").write_text("".join(json.dumps(
        {"question_id": i, "model_id": "gpt-4", "choices": [{"index": 0, "turns": ["ref 1", "ref 2"]}]}) + "\n"
        for i in (3, 4)))
    if manifest is not None:
        (bench / "bench.json").write_text(json.dumps(manifest))
    return bench


def test_own_bench_two_new_categories_through_answer_judge_show_and_radar(tmp_path, openai_server):
    data = tmp_path / "data"
    own_bench(data, {"categories": {"contracts": {"temperature": 0.3}, "tax": {"temperature": 0.0,
                                                                              "reference": True}}})
    openai_server.responder = lambda body: "an answer"
    out = mtbench("gen-api-answer", "--data-dir", data, "--bench-name", "legal_bench", "--model", "m1",
                  "--openai-api-base", openai_server.base_url, "--no-progress", env=ENV)
    assert out.returncode == 0, out.stderr
    temps = {r.body["messages"][0]["content"].split(",")[0]: r.body["temperature"]
             for r in openai_server.chat_requests}
    assert temps == {"Question 1": 0.3, "Question 2": 0.3, "Question 3": 0.0, "Question 4": 0.0}

    openai_server.requests.clear()
    openai_server.responder = lambda body: "Rating: [[4]]" if "ref 1" in body["messages"][-1]["content"] \
        else "Rating: [[8]]"
    out = judge(data, openai_server, "legal_bench")
    assert out.returncode == 0, out.stderr
    names = Counter(r.judge[1] for r in load_single_judgments(
        data / "legal_bench" / "model_judgment" / "gpt-4_single.jsonl"))
    assert names == Counter({"single-v1": 2, "single-v1-multi-turn": 2, "single-math-v1": 2,
                             "single-math-v1-multi-turn": 2})
    out = show(data, "legal_bench", "--format", "json", "--plot", tmp_path / "radar.png")
    assert out.returncode == 0, out.stderr
    by_category = json.loads(out.stdout)["by_category"]
    assert "contracts" in json.dumps(by_category) and "tax" in json.dumps(by_category)
    assert (tmp_path / "radar.png").stat().st_size > 10_000
    out = mtbench("report", "--data-dir", data, "--bench-name", "legal_bench", "--out", tmp_path / "r.html", env=ENV)
    assert out.returncode == 0, out.stderr
    assert "contracts" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_own_bench_without_a_manifest_gets_the_documented_defaults(tmp_path, openai_server):
    data = tmp_path / "data"
    own_bench(data, None)
    openai_server.responder = lambda body: "an answer"
    out = mtbench("gen-api-answer", "--data-dir", data, "--bench-name", "legal_bench", "--model", "m1",
                  "--openai-api-base", openai_server.base_url, "--no-progress", env=ENV)
    assert out.returncode == 0, out.stderr
    assert {r.body["temperature"] for r in openai_server.chat_requests} == {0.7}
    openai_server.responder = lambda body: "Rating: [[5]]"
    assert judge(data, openai_server, "legal_bench").returncode == 0
    names = {r.judge[1] for r in load_single_judgments(data / "legal_bench" / "model_judgment" / "gpt-4_single.jsonl")}
    assert names == {"single-v1", "single-v1-multi-turn"}  # no reference, the general prompt


@pytest.mark.parametrize("lines, line, message", [
    ([{"question_id": 1, "category": "tax", "turns": []}], 1, "field 'turns' is empty"),
    ([{"question_id": 1, "category": "tax", "turns": ["a"]}, {"question_id": 1, "category": "tax", "turns": ["b"]}],
     2, "duplicate question_id 1"),
    ([{"question_id": 1, "category": "contracts", "turns": ["a"]}, {"question_id": 7, "category": "tax",
                                                                      "turns": ["b"]}],
     2, "its category tax is judged against a reference"),
])
def test_question_file_that_does_not_fit_is_one_line_naming_file_and_line(tmp_path, openai_server, lines, line,
                                                                           message):
    data = tmp_path / "data"
    bench = own_bench(data, {"categories": {"tax": {"reference": True}}})
    (bench / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in lines))
    (bench / "model_answer").mkdir()
    (bench / "model_answer" / "m1.jsonl").write_text(json.dumps(
        {"question_id": lines[-1]["question_id"], "model_id": "m1", "choices": [{"index": 0, "turns": ["x"]}]}) + "\n")
    out = judge(data, openai_server, "legal_bench")
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert f"{bench / 'question.jsonl'}:{line}:" in out.stderr and message in out.stderr
    assert openai_server.chat_requests == []


@pytest.mark.parametrize("text, message", [
    ("{not json", "bench.json:1: not valid JSON"),
    ('{"categories": {"tax": {"temperature": "hot"}}}', "field 'temperature' must be a int or float"),
    ('{"colour": "red"}', "unknown field 'colour'"),
    ('{"judged_turns": [0]}', "judged_turns must be a list of turn numbers from 1"),
])
def test_bad_manifest_is_one_line_naming_the_file(tmp_path, openai_server, text, message):
    data = tmp_path / "data"
    bench = own_bench(data, None)
    (bench / "bench.json").write_text(text)
    out = judge(data, openai_server, "legal_bench")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert message in out.stderr and "bench.json" in out.stderr


def test_shipped_manifests_parse_and_pin_what_source_md_says():
    source = (BENCHES / "SOURCE.md").read_text()
    for name in ("mt_bench", "vicuna_bench", "japanese_mt_bench", "mt_bench_101"):
        m = load_shipped(name)
        for f in m.downloads:
            assert f.sha256 in source and f.commit in source and str(f.size) in source or f.path == "judge_prompts.jsonl"
    ja = load_shipped("japanese_mt_bench")
    assert ja.question_file == "question_full.jsonl" and ja.judged_turns == (1,) and not ja.judges_pairs()
    assert ja.temperature("writing") == 0.5 and ja.needs_reference("reasoning") and ja.language == "ja"
    assert parse_manifest("{}", "x").temperature("anything") == 0.7


# ---------------------------------------------------------------------------------------------------
# a local model answers a bench (the tiny random Llama), then the bench's judge prompts go out byte-exact


@pytest.mark.model
def test_local_tiny_model_answers_japanese_mt_bench_and_is_judged(ja_data, openai_server, tmp_path):
    from tests.models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    out = mtbench("gen-answer", "--model-path", model, "--model-id", "tiny", "--data-dir", ja_data,
                  "--bench-name", "japanese_mt_bench", "--per-category", "1", "--max-new-token", "8", env=ENV)
    assert out.returncode == 0, out.stderr
    answers = rows(ja_data / "japanese_mt_bench" / "model_answer" / "tiny.jsonl")
    questions = {q["question_id"]: q for q in rows(ja_data / "japanese_mt_bench" / "question_full.jsonl")}
    assert len(answers) == 8 and {questions[a["question_id"]]["category"] for a in answers} == {
        "writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"}
    assert all(len(a["choices"][0]["turns"]) == 2 for a in answers)  # the fork answers both turns

    openai_server.responder = lambda body: "評価：[[3]]"
    out = judge(ja_data, openai_server, "japanese_mt_bench", "--model-list", "tiny")
    assert out.returncode == 0, out.stderr
    expected = fork_prompts(ja_data, [], "gpt-4")  # nothing: build the tiny model's own below
    prompts = {p["name"]: p for p in rows(ja_data / "judge_ja_prompts.jsonl")}
    refs = {r["question_id"]: r for r in rows(ja_data / "japanese_mt_bench" / "reference_answer" / "gpt-4.jsonl")}
    for a in answers:
        q = questions[a["question_id"]]
        name = "single-math-v1" if q["category"] in FORK_NEED_REF else "single-v1"
        ref = refs[q["question_id"]]["choices"][0]["turns"]
        expected[(prompts[name]["system_prompt"], prompts[name]["prompt_template"].format(
            question=q["turns"][0], answer=a["choices"][0]["turns"][0], ref_answer_1=ref[0], ref_answer_2=ref[1]))] += 1
    assert wire(openai_server) == expected
