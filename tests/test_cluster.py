"""`mtbench gen-answer` on a real two-node Ray cluster (``tests/ray_cluster.py``), started on this machine
with `ray start` as a user starts one on two machines, and torn down by the tests (also when one fails).

The worker node cannot see the ``head_only`` folder. The answer files live there, so every answer a
worker-node replica produced that reaches the file was written by the driver; a model put there is a
path one node lacks. The pure parts (work queue, checkpoint configs) come first and need no cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.records import Question
from mtbench.gen_model_answer import (
    AnswerSettings,
    GenAnswerConfig,
    GenAnswerRuns,
    ModelSpec,
    WorkQueue,
    gen_model_answer,
    interleave,
)
from tests import helpers
from tests.cli import mtbench
from tests.conftest import MT_BENCH_DATA, REPO
from tests.models import build_tiny_model
from tests.ray_cluster import ENV, RAY, RayCluster

# ---------------------------------------------------------------------------------------------------
# pure parts: the work queue, several checkpoints' configs


def _questions(*ids: int) -> list[Question]:
    return [Question(question_id=i, category="writing", turns=(f"q{i}",)) for i in ids]


def test_work_queue_keeps_a_replica_on_its_model_then_takes_one_no_replica_holds():
    a, b, c = [_questions(1, 2), _questions(3)], [_questions(4)], [_questions(5), _questions(6), _questions(7)]
    queue = WorkQueue([a, b, c])
    first = queue.next_for(0), queue.next_for(1)
    assert [chunk.job for chunk in first] == [2, 0]  # the most work first, and no two loads of one model
    assert queue.next_for(0).job == 2  # keeps the model it holds
    assert queue.next_for(1).job == 0
    assert queue.next_for(1).job == 1  # 0 is done: 1 is held by nobody
    assert queue.next_for(0).job == 2 and queue.next_for(0) is None and queue.next_for(1) is None


def test_work_queue_requeues_a_lost_chunk_first_then_gives_it_up():
    queue = WorkQueue([[_questions(1), _questions(2)]], max_losses=2)
    chunk = queue.next_for(0)
    assert queue.lost(0, chunk) is True  # back at the front: the next free replica takes it
    again = queue.next_for(1)
    assert again is chunk and again.losses == 1
    assert queue.lost(1, again) is False  # a second replica died on it: given up, not retried forever
    assert [c.questions for c in queue.drain()] == [_questions(2)] and queue.next_for(2) is None


def test_interleave_hands_each_replica_its_own_share_first():
    assert interleave([[1, 2, 3], [4], [5, 6]]) == [1, 4, 5, 2, 6, 3]


def test_several_checkpoints_configs_pair_paths_and_ids(tmp_path):
    base = GenAnswerConfig(model=ModelSpec(path="x"), answers=AnswerSettings("x"), layout=BenchLayout(tmp_path))
    runs = GenAnswerRuns.of(base, ["ckpt/1", "ckpt/2"], ["m1", "m2"])
    assert [(r.model.path, r.answers.model_id, r.output_file.name) for r in runs.runs] == [
        ("ckpt/1", "m1", "m1.jsonl"), ("ckpt/2", "m2", "m2.jsonl")]
    # the library names GenAnswerJob's fields; the CLI names the flags (test_cli_model_paths_and_ids_must_pair)
    with pytest.raises(UserError, match="^model_path has 2 value.* model_id has 1"):
        GenAnswerRuns.of(base, ["a", "b"], ["a"])
    with pytest.raises(UserError, match="^model_id a: a already writes"):
        GenAnswerRuns.of(base, ["a", "b"], ["a", "a"])
    with pytest.raises(UserError, match="^settings.answer_file names one file"):
        GenAnswerRuns.of(GenAnswerConfig(model=base.model, answers=base.answers, answer_file=tmp_path / "f.jsonl"),
                         ["a", "b"], ["a", "b"])


def test_cli_model_paths_and_ids_must_pair(tmp_path):
    out = mtbench("gen-answer", "--model-path", "a", "b", "--model-id", "a", "--data-dir", tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--model-path has 2 value(s) but --model-id has 1" in out.stderr


@pytest.mark.slow
def test_a_ray_address_nobody_answers_is_one_line(tmp_path):
    (tmp_path / "mt_bench").mkdir()
    shutil.copy(MT_BENCH_DATA / "question.jsonl", tmp_path / "mt_bench" / "question.jsonl")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    # a process of its own: a failed ray.init leaves state behind in the process that called it
    out = subprocess.run(
        [sys.executable, "-m", "mtbench", "gen-answer", "--model-path", "org/model", "--model-id", "m",
         "--data-dir", str(tmp_path), "--ray-address", f"127.0.0.1:{port}", "--device", "cpu", "--no-progress"],
        capture_output=True, text=True, env=ENV, cwd=REPO, timeout=120,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"--ray-address 127.0.0.1:{port}: no Ray cluster answers there" in out.stderr


# ---------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Two tiny models every node can read, and the head-only folder (made before the worker hides it)."""
    shared = tmp_path_factory.mktemp("shared")
    head_only = tmp_path_factory.mktemp("head_only")
    return {
        "a": build_tiny_model(shared / "a", seed=0),
        "b": build_tiny_model(shared / "b", seed=1),
        "head_only": head_only,
    }


@pytest.fixture(scope="module")
def ray_cluster(folders) -> Iterator[RayCluster]:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("the worker node's own disk view needs root and unshare (tmpfs in a mount namespace)")
    cluster = RayCluster(folders["head_only"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def cluster(ray_cluster) -> RayCluster:
    """The module's cluster with both nodes up (a test that lost the worker node gets a new one)."""
    if not ray_cluster.worker_alive():
        ray_cluster.start_worker()
    return ray_cluster


@pytest.fixture()
def data_dir(folders, request) -> Path:
    """MT-bench's questions in a folder only the head node (where the driver runs) can see."""
    folder = folders["head_only"] / request.node.name
    (folder / "mt_bench").mkdir(parents=True)
    shutil.copy(MT_BENCH_DATA / "question.jsonl", folder / "mt_bench" / "question.jsonl")
    return folder


def gen_answer(cluster: RayCluster, data_dir: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mtbench", "gen-answer", "--ray-address", cluster.address, "--device", "cpu",
         "--num-gpus-total", "2", "--data-dir", str(data_dir), "--no-progress", *args],
        capture_output=True, text=True, timeout=timeout, env=ENV, cwd=REPO,
    )


def lines(path: Path) -> list[dict]:
    """The answer file's records; a last line still being written (no newline yet) is not one."""
    return helpers.lines(path, complete_only=True)


def ours(stderr: str) -> list[str]:
    """mtbench's own lines (Ray adds its connection lines and, when a node dies, the raylet's log)."""
    return [line for line in stderr.splitlines() if line.startswith("mtbench")]


# ---------------------------------------------------------------------------------------------------
# on the two-node cluster


@pytest.mark.ray
@pytest.mark.heavy
def test_replicas_on_both_nodes_driver_writes_each_answer_once_rerun_skips(cluster, folders, data_dir):
    out = gen_answer(cluster, data_dir, "--model-path", str(folders["a"]), "--model-id", "a",
                     "--question-end", "6", "--max-new-token", "12", "--batch-size", "1")
    assert out.returncode == 0, out.stderr
    path = data_dir / "mt_bench" / "model_answer" / "a.jsonl"
    answers = lines(path)
    assert [a["question_id"] for a in answers] == [81, 82, 83, 84, 85, 86]
    # Both nodes' replicas answered (the ids the actors report are the cluster's own node ids), and each
    # answer names the replica that made it and that replica's node.
    nodes = {a["replica"]: a["node_id"] for a in answers}
    assert sorted(nodes) == [0, 1] and set(nodes.values()) == set(cluster.node_ids.values())
    assert all(a["node_id"] == nodes[a["replica"]] and a["node_ip"] == cluster.node_ip for a in answers)

    # Where an answer was made changes nothing in it: the same texts as one replica in this process.
    local = GenAnswerConfig(model=ModelSpec(path=str(folders["a"])), answers=AnswerSettings("local", 12),
                            layout=BenchLayout(data_dir=data_dir), question_end=6, progress=False)
    gen_model_answer(local)
    assert [a["choices"] for a in answers] == [a["choices"] for a in lines(local.output_file)]

    before = path.read_bytes()
    again = gen_answer(cluster, data_dir, "--model-path", str(folders["a"]), "--model-id", "a",
                       "--question-end", "6", "--max-new-token", "12")
    assert again.returncode == 0, again.stderr
    assert "6 of 6 questions already answered" in again.stderr
    assert path.read_bytes() == before


@pytest.mark.ray
@pytest.mark.heavy
def test_a_model_path_one_node_lacks_is_one_line_naming_that_node(cluster, folders, data_dir):
    model = folders["head_only"] / "model-on-the-head-only"
    shutil.copytree(folders["a"], model)
    out = gen_answer(cluster, data_dir, "--model-path", str(model), "--model-id", "x", "--question-end", "2")
    assert out.returncode == 2, out.stderr
    worker = cluster.node_ids["worker"][:8]
    errors = [line for line in ours(out.stderr) if "error" in line]
    assert errors == [
        f"mtbench gen-answer: error: --model-path {model}: no such folder on node {cluster.node_ip} "
        f"({worker}); the model must be readable at that path on every node "
        "(shared storage, or the same copy on each node)"
    ], out.stderr
    assert "Traceback" not in out.stderr
    assert not (data_dir / "mt_bench" / "model_answer" / "x.jsonl").exists()


@pytest.mark.ray
@pytest.mark.heavy
def test_several_checkpoints_in_one_run_a_bad_one_does_not_stop_the_others(cluster, folders, data_dir):
    missing = folders["head_only"] / "checkpoint-on-the-head-only"
    shutil.copytree(folders["b"], missing)
    out = gen_answer(cluster, data_dir, "--model-path", str(folders["a"]), str(missing), str(folders["b"]),
                     "--model-id", "a", "c", "b", "--question-end", "6", "--max-new-token", "12")
    assert out.returncode == 2, out.stderr  # the worst of the models: c's path is a user error
    errors = [line for line in ours(out.stderr) if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(f"mtbench gen-answer: error: model c: --model-path {missing}:")
    assert "no such folder on node" in errors[0]
    folder = data_dir / "mt_bench" / "model_answer"
    assert sorted(p.name for p in folder.glob("*.jsonl")) == ["a.jsonl", "b.jsonl"]
    a, b = lines(folder / "a.jsonl"), lines(folder / "b.jsonl")
    for answers, model_id in ((a, "a"), (b, "b")):
        assert [x["question_id"] for x in answers] == [81, 82, 83, 84, 85, 86]
        assert {x["model_id"] for x in answers} == {model_id} and not any("error" in x for x in answers)
    assert [x["choices"] for x in a] != [x["choices"] for x in b]  # two checkpoints, two sets of answers
    # Checkpoint a's answers do not depend on sharing the run with b.
    alone = GenAnswerConfig(model=ModelSpec(path=str(folders["a"])), answers=AnswerSettings("alone", 12),
                            layout=BenchLayout(data_dir=data_dir), question_end=6, progress=False)
    gen_model_answer(alone)
    assert [x["choices"] for x in a] == [x["choices"] for x in lines(alone.output_file)]


@pytest.mark.ray
@pytest.mark.heavy
def test_ray_job_submit_runs_gen_answer_on_the_cluster(cluster, folders, data_dir):
    if not cluster.dashboard:
        pytest.skip("`ray job submit` needs the Ray dashboard: install ray[default]")
    runtime_env = {"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}}
    out = subprocess.run(
        [RAY, "job", "submit", "--address", f"http://127.0.0.1:{cluster.dashboard_port}",
         "--runtime-env-json", json.dumps(runtime_env), "--",
         sys.executable, "-m", "mtbench", "gen-answer", "--ray-address", "auto", "--device", "cpu",
         "--num-gpus-total", "2", "--model-path", str(folders["a"]), "--model-id", "job",
         "--data-dir", str(data_dir), "--question-end", "4", "--max-new-token", "8", "--no-progress"],
        capture_output=True, text=True, timeout=300, env=ENV, cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "succeeded" in out.stdout + out.stderr
    answers = lines(data_dir / "mt_bench" / "model_answer" / "job.jsonl")
    assert [a["question_id"] for a in answers] == [81, 82, 83, 84]
    assert {a["node_id"] for a in answers} == set(cluster.node_ids.values())


def _run_until(cluster: RayCluster, data_dir: Path, args: list[str], ready) -> subprocess.Popen:
    """gen-answer started in the background, returned once ``ready(answers so far)`` holds."""
    path = data_dir / "mt_bench" / "model_answer" / "a.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtbench", "gen-answer", "--ray-address", cluster.address, "--device", "cpu",
         "--num-gpus-total", "2", "--data-dir", str(data_dir), "--no-progress", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO,
    )
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if path.exists() and ready(lines(path)):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run ended before it could be interrupted: {proc.communicate()[1]}")


@pytest.mark.ray
@pytest.mark.heavy
def test_every_replica_lost_leaves_failure_records_saying_why_and_a_retry_completes(cluster, folders, data_dir):
    args = ["--model-path", str(folders["a"]), "--model-id", "a", "--question-end", "16",
            "--max-new-token", "32", "--batch-size", "1"]
    path = data_dir / "mt_bench" / "model_answer" / "a.jsonl"
    proc = _run_until(cluster, data_dir, args, lambda answers: len(answers) >= 2)
    try:
        finished = lines(path)
        assert cluster.kill_replicas() == 2
        _, stderr = proc.communicate(timeout=240)  # no hang: both replicas are seen to be gone
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, stderr
    (error,) = [line for line in ours(stderr) if "error" in line]
    assert "chunk(s) of questions were not answered" in error and "rerun with --retry-failed" in error
    answers = {a["question_id"]: a for a in lines(path)}
    assert sorted(answers) == list(range(81, 97))  # every question once: an answer or a failure
    assert all(answers[a["question_id"]] == a for a in finished)  # nothing finished is lost
    failures = [a for a in answers.values() if "error" in a]
    assert failures and all(a["choices"] == [{"index": 0, "turns": []}] for a in failures)
    assert all(" was lost: " in a["error"] or a["error"].startswith("no Ray replica was left") for a in failures)
    assert any("replica" in a and a["node_id"] in cluster.node_ids.values() for a in failures)

    retry = gen_answer(cluster, data_dir, *args, "--retry-failed")
    assert retry.returncode == 0, retry.stderr
    answers = {a["question_id"]: a for a in lines(path)}
    assert sorted(answers) == list(range(81, 97)) and not any("error" in a for a in answers.values())


@pytest.mark.ray
@pytest.mark.heavy
def test_a_node_lost_mid_run_its_work_moves_to_the_other_node_and_nothing_is_lost(cluster, folders, data_dir):
    args = ["--model-path", str(folders["a"]), "--model-id", "a", "--question-end", "40",
            "--max-new-token", "32", "--batch-size", "1"]
    path = data_dir / "mt_bench" / "model_answer" / "a.jsonl"
    worker = cluster.node_ids["worker"]
    # Lose the worker node once it has finished some answers and has more to do: a node that died after
    # its last answer would lose nothing.
    proc = _run_until(cluster, data_dir, args, lambda answers: len(answers) <= 25 and any(
        a["node_id"] == worker for a in answers))
    try:
        from_worker = [a for a in lines(path) if a["node_id"] == worker]
        cluster.kill_worker_raylet()
        _, stderr = proc.communicate(timeout=240)  # the run does not hang on the lost node
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert any("was lost" in line and "its questions go to the other replicas" in line for line in ours(stderr))
    answers = lines(path)
    ids = [a["question_id"] for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 40
    assert not any("error" in a for a in answers)
    kept = {a["question_id"]: a for a in answers}
    assert from_worker and all(kept[a["question_id"]] == a for a in from_worker)  # nothing finished is lost
    assert {a["node_id"] for a in answers} == set(cluster.node_ids.values())

    again = gen_answer(cluster, data_dir, *args)
    assert again.returncode == 0, again.stderr
    assert "40 of 40 questions already answered" in again.stderr
