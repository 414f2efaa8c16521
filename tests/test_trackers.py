"""`--log-to`: each tracker for real in its local mode, read back with its own reader (issue 26, part 3).

W&B offline (its run file, parsed record by record), MLflow's file store, TensorBoard's event file through
its EventAccumulator, trackio's local SQLite store. Every run has API keys in the environment; no file a
tracker wrote may contain one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli import mtbench

SECRET = "sk-mtbench-test-SECRET-4c1d"
KEYS = {"OPENAI_API_KEY": SECRET, "AZURE_OPENAI_API_KEY": SECRET + "-azure", "HF_TOKEN": "hf_" + SECRET}
PROVENANCE = {"judge_reported_model": "gpt-4-0613", "judge_prompt_sha256": "ab" * 32, "reference": "gpt-4",
              "reference_sha256": "cd" * 32, "mtbench_version": "0.1.0"}
# alpha: 8 on turn 1, 6 on turn 2 (overall 7); beta: category k (81-90 writing = 0, ...) scores k + 1.
EXPECTED = {"overall/alpha": 7.0, "first_turn/alpha": 8.0, "second_turn/alpha": 6.0, "overall/beta": 4.5,
            "category/writing/beta": 1.0, "category/humanities/beta": 8.0, "category/math/alpha": 7.0}


def _row(qid: int, model: str, turn: int, score: int) -> dict:
    return {"question_id": qid, "model": model, "turn": turn, "score": score, "judgment": f"Rating: [[{score}]]",
            "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"], "user_prompt": "p",
            "tstamp": 0.0, "provenance": PROVENANCE}


@pytest.fixture()
def judged(data_dir: Path) -> Path:
    rows = [_row(q, "alpha", t, s) for q in range(81, 161) for t, s in ((1, 8), (2, 6))]
    rows += [_row(q, "beta", t, (q - 81) // 10 + 1) for q in range(81, 161) for t in (1, 2)]
    path = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data_dir


def show_logged(data_dir: Path, tracker: str, tmp_path: Path, env: dict[str, str], *extra: str):
    out = mtbench("show", "--data-dir", data_dir, "--format", "json", "--log-to", tracker,
                  "--log-name", "mtbench test run", *extra, env={**KEYS, **env}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)  # the trackers' chatter stays off stdout
    assert f"logged to {tracker}" in out.stderr
    return out


def assert_no_key(root: Path) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        assert SECRET.encode() not in data, p


def assert_metrics(got: dict[str, float]) -> None:
    for key, value in EXPECTED.items():
        assert got[key] == pytest.approx(value), key


@pytest.mark.slow
def test_wandb_offline(judged, tmp_path):
    from tests.wandb_records import offline_run

    root = tmp_path / "wandb"
    root.mkdir()
    show_logged(judged, "wandb", tmp_path, {"WANDB_MODE": "offline", "WANDB_DIR": str(root), "WANDB_SILENT": "true"})
    run = offline_run(root)
    assert "exit" in run["kinds"] and "judge_prompt_sha256" in run["config"], run["kinds"]
    assert run["config"]["judge_prompt_sha256"] == "ab" * 32 and run["config"]["mtbench_version"] == "0.1.0"
    assert run["config"]["reference"] == f"gpt-4 ({'cd' * 6})" and run["config"]["judge"] == "gpt-4"
    assert_metrics(run["summary"])
    assert run["summary"]["scores/nrows"] == 2 and run["summary"]["by_category/nrows"] == 8
    table = json.loads((run["file"].parent / "files" / run["summary"]["scores/path"]).read_text())
    assert [r[table["columns"].index("model")] for r in table["data"]] == ["alpha", "beta"]
    assert run["summary"]["radar/_type"] == "image-file" and run["summary"]["radar/width"] > 100
    assert {"name": "mtbench-judgments", "type": "judgments", "files": ["gpt-4_single.jsonl"]} in run["artifacts"]
    assert_no_key(root)


@pytest.mark.slow
def test_mlflow_file_store(judged, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    show_logged(judged, "mlflow", tmp_path, {"MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_FILE_STORE": "true"},
                "--log-project", "mt-bench-tests")
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("mt-bench-tests").experiment_id])
    assert run.info.run_name == "mtbench test run" and run.info.status == "FINISHED"
    assert run.data.params["judge_prompt_sha256"] == "ab" * 32 and run.data.params["mode"] == "single"
    assert_metrics(run.data.metrics)
    files = {a.path for a in client.list_artifacts(run.info.run_id, "mtbench")}
    assert files == {f"mtbench/{f}" for f in ("scores.json", "by_category.json", "radar.png", "results.json",
                                               "gpt-4_single.jsonl")}
    local = Path(client.download_artifacts(run.info.run_id, "mtbench/scores.json", str(tmp_path)))
    assert json.loads(local.read_text())["columns"][0] == "model"
    assert_no_key(tmp_path / "mlruns")


@pytest.mark.slow
def test_tensorboard_event_file(judged, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    show_logged(judged, "tensorboard", tmp_path, {}, "--log-dir", "tb")
    run_dir = tmp_path / "tb" / "mtbench_test_run"
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert_metrics({t: events.Scalars(t)[0].value for t in tags["scalars"]})
    texts = {t: events.Tensors(t)[0].tensor_proto.string_val[0].decode() for t in tags["tensors"]}
    assert "| alpha | 8 | 6 | 7 |" in texts["tables/scores"]
    assert '"judge_prompt_sha256": "' + "ab" * 32 in texts["provenance"]
    (image,) = events.Images("radar")
    assert image.encoded_image_string.startswith(b"\x89PNG") and image.width > 100
    assert (run_dir / "gpt-4_single.jsonl").read_bytes() == (judged / "mt_bench/model_judgment/gpt-4_single.jsonl").read_bytes()
    assert_no_key(tmp_path / "tb")


@pytest.mark.slow
def test_trackio_local_store(judged, tmp_path):
    store = tmp_path / "trackio"
    show_logged(judged, "trackio", tmp_path, {"TRACKIO_DIR": str(store)})
    from trackio.sqlite_storage import SQLiteStorage

    (logged,) = SQLiteStorage.get_logs("mtbench", "mtbench test run")
    assert_metrics(logged)
    assert [r["model"] for r in logged["scores"]["_value"]] == ["alpha", "beta"]
    assert logged["radar"]["_type"] == "trackio.image"
    config = SQLiteStorage.get_run_config("mtbench", "mtbench test run")
    assert config["judge_prompt_sha256"] == "ab" * 32 and config["reference"].startswith("gpt-4 (")
    assert any(p.is_file() for p in (store / "artifacts").rglob("*"))
    assert_no_key(store)


def test_missing_extra_is_one_line_naming_it(judged, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # what an install without the extra sees: ImportError
    out = mtbench("show", "--data-dir", judged, "--log-to", "wandb", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].endswith(
        "--log-to wandb needs the wandb package: pip install 'mtbench[wandb]'")
    assert "Traceback" not in out.stderr


def test_unknown_tracker_is_refused(judged, tmp_path):
    out = mtbench("show", "--data-dir", judged, "--log-to", "neptune", cwd=tmp_path)
    assert out.returncode == 2 and "--log-to" in out.stderr and "neptune" in out.stderr


def test_payload_from_a_pairwise_report(judged, tmp_path):
    """Pairwise: win rates as metrics, no radar; the library call names its trackers itself."""
    from mtbench.core.bench import BenchLayout
    from mtbench.integrations.trackers import tracked_run
    from mtbench.show_result import ShowConfig, show

    rows = [{"question_id": q, "model_1": "alpha", "model_2": "beta", "g1_winner": "model_1",
             "g2_winner": "model_1" if q % 2 else "tie", "judge": ["gpt-4", "pair-v2"], "turn": 1, "tstamp": 0.0,
             "g1_user_prompt": "", "g1_judgment": "", "g2_user_prompt": "", "g2_judgment": ""}
            for q in range(81, 161)]
    path = tmp_path / "pair.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = show(ShowConfig(layout=BenchLayout(data_dir=judged), judgment_file=path, mode="pairwise-all",
                             n_bootstrap=0))
    run = tracked_run(report)
    assert run.radar_png is None and set(run.tables) == {"win_rates"}
    assert run.metrics["win_rate/alpha"] == pytest.approx(0.5) and run.metrics["win_rate_adjusted/alpha"] == 0.75
    assert run.params["mode"] == "pairwise-all" and run.name == "mtbench mt_bench pairwise-all gpt-4"


def test_a_bench_with_its_own_scoring_refuses_log_to(tmp_path):
    """MT-Bench-101 scores through its own protocol, not a show report: refused, never silently not logged."""
    from tests.conftest import SHARED

    bench = tmp_path / "mt_bench_101"
    bench.mkdir()
    (bench / "mtbench101.jsonl").write_bytes((SHARED / "benchmarks/mt_bench_101/mtbench101.jsonl").read_bytes())
    out = mtbench("show", "--data-dir", tmp_path, "--bench-name", "mt_bench_101", "--log-to", "tensorboard")
    assert out.returncode == 2 and "--log-to is not available for mt_bench_101 yet" in out.stderr
