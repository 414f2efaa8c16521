"""`mtbench export`: results.json, the details dataset read back through `datasets`, and the push to a
loopback stand-in for the Hub driven by huggingface_hub's own upload calls (issue 26, part 4)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli import mtbench
from tests.hub_server import FakeHub
from tests.test_trackers import judged  # noqa: F401  (the fixture: alpha and beta judged, with provenance)

TOKEN = "hf_mtbench_SECRET_token_77"


def answers(data_dir: Path) -> None:
    folder = data_dir / "mt_bench" / "model_answer"
    folder.mkdir(parents=True, exist_ok=True)
    for model in ("alpha", "beta"):
        lines = [{"question_id": q, "model_id": model, "answer_id": f"{model}-{q}", "tstamp": 0.0,
                  "choices": [{"index": 0, "turns": [f"{model} on {q}, turn 1", f"{model} on {q}, turn 2"]}]}
                 for q in range(81, 161)]
        (folder / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


@pytest.mark.slow
def test_results_json_and_details_round_trip(judged, tmp_path):  # noqa: F811
    from datasets import Dataset

    answers(judged)
    out = mtbench("export", "--data-dir", judged, "--out", tmp_path / "export", "--bootstrap", "200")
    assert out.returncode == 0, out.stderr
    assert "(320 judgments)" in out.stdout
    results = json.loads((tmp_path / "export" / "results.json").read_text())
    assert results["schema"] == "mtbench-results/1" and results["mode"] == "single" and results["judges"] == ["gpt-4"]
    alpha, beta = results["models"]["alpha"], results["models"]["beta"]
    assert alpha["score"] == 7.0 and alpha["turns"] == {"1": 8.0, "2": 6.0} and alpha["n_questions"] == 80
    assert alpha["ci"][0] <= 7.0 <= alpha["ci"][1]
    assert beta["categories"]["writing"] == 1.0 and beta["categories"]["humanities"] == 8.0 and beta["score"] == 4.5
    assert results["provenance"]["prompt_files"] == {"ab" * 32: 320}
    assert results["bootstrap"]["n"] == 200

    rows = Dataset.from_parquet(str(tmp_path / "export" / "details.parquet"), cache_dir=str(tmp_path / "cache"))
    assert rows.num_rows == 320
    question = json.loads((judged / "mt_bench" / "question.jsonl").read_text().splitlines()[0])
    (row,) = [r for r in rows if r["model"] == "beta" and r["question_id"] == 81 and r["turn"] == 2]
    assert row["question"] == question["turns"] and row["category"] == "writing"
    assert row["answer"] == ["beta on 81, turn 1", "beta on 81, turn 2"]
    assert row["judge_reply"] == "Rating: [[1]]" and row["score"] == 1.0 and row["judge"] == "gpt-4"
    assert row["judge_prompt_name"] == "single-v1-multi-turn"


def test_pairwise_results(judged, tmp_path):  # noqa: F811
    rows = [{"question_id": q, "model_1": "alpha", "model_2": "beta", "g1_winner": "model_1",
             "g2_winner": "model_1" if q % 2 else "tie", "judge": ["gpt-4", "pair-v2"], "turn": 1, "tstamp": 0.0,
             "g1_user_prompt": "p1", "g1_judgment": "[[A]]", "g2_user_prompt": "p2", "g2_judgment": "[[B]]"}
            for q in range(81, 161)]
    path = judged / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = mtbench("export", "--data-dir", judged, "--mode", "pairwise-all", "--out", tmp_path / "x", "--no-details")
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "x" / "results.json").read_text())
    assert results["models"]["alpha"]["win_rate"] == 0.5 and results["models"]["alpha"]["win_rate_adjusted"] == 0.75
    assert results["models"]["alpha"]["win"] == 40 and results["models"]["alpha"]["tie"] == 40
    assert not (tmp_path / "x" / "details.parquet").exists()


@pytest.mark.slow
@pytest.mark.parametrize("public", [False, True])
def test_push_to_hub_through_huggingface_hub(judged, tmp_path, public):  # noqa: F811
    answers(judged)
    folder = tmp_path / "export"
    with FakeHub() as hub:
        out = mtbench("export", "--data-dir", judged, "--out", folder, "--push-to-hub", "my-org/mt-bench-run",
                      *(["--public"] if public else []),
                      env={"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HUB_OFFLINE": None})
    assert out.returncode == 0, out.stderr
    (create,) = [r for r in hub.requests if r.path == "/api/repos/create"]
    assert create.body == {"name": "mt-bench-run", "organization": "my-org", "type": "dataset",
                           "visibility": "public" if public else "private"}
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub.requests if r.path.startswith("/api/")
               and r.method == "POST")
    assert set(hub.files) == {"results.json", "details.parquet", "README.md"}
    for name, data in hub.files.items():
        assert data == (folder / name).read_bytes()
    assert "config_name: details" in hub.files["README.md"].decode()
    assert f"pushed to {hub.url}/datasets/my-org/mt-bench-run" in out.stdout
    for p in folder.rglob("*"):
        assert TOKEN.encode() not in p.read_bytes()
    assert TOKEN not in out.stdout + out.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--push-to-hub", "no-owner"], "--push-to-hub takes OWNER/NAME"),
    (["--public"], "--public goes with --push-to-hub"),
])
def test_bad_flags_are_one_line(judged, args, message):  # noqa: F811
    out = mtbench("export", "--data-dir", judged, *args)
    assert out.returncode == 2 and message in out.stderr


def test_missing_datasets_names_the_extra(judged, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "datasets", None)
    out = mtbench("export", "--data-dir", judged, "--out", tmp_path / "x")
    assert out.returncode == 2
    assert "needs the datasets package: pip install 'mtbench[hub]' (or --no-details)" in out.stderr
    assert "Traceback" not in out.stderr
