"""`mtbench gen-answer` on a real two-node Ray cluster, started on this machine with `ray start` as a user
starts one on two machines, and torn down by the tests (also when one fails).

The worker node runs in its own mount namespace in which one folder of the test (``head_only``) is an
empty tmpfs: that folder is on the head's disk only, as a path is on one machine of a real cluster and
not the others. The answer files live there, so every answer a worker-node replica produced that reaches
the file was written by the driver. (Ray maps ``--node-ip-address 127.0.0.1`` to this machine's own
address; nothing leaves the machine.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtbench.bench import BenchLayout
from mtbench.errors import UserError
from mtbench.gen_model_answer import (
    AnswerSettings,
    GenAnswerConfig,
    GenAnswerRuns,
    ModelSpec,
    WorkQueue,
    gen_model_answer,
    interleave,
)
from mtbench.records import Question
from tests.conftest import MT_BENCH_DATA, REPO
from tests.models import build_tiny_model

RAY = str(Path(sys.executable).parent / "ray")
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
ENV.pop("RAY_ADDRESS", None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dashboard_available() -> bool:
    """`ray job submit` needs the dashboard's job server, which needs ray[default]."""
    from ray._private.utils import get_dashboard_dependency_error

    return get_dashboard_dependency_error() is None


class RayCluster:
    """A head node and one worker node, each a `ray start --block` process (stopping it stops the node)."""

    def __init__(self, head_only: Path):
        # Ray's socket paths must stay short: its temp dir is directly under /tmp.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mtb-ray-", dir="/tmp"))
        self.head_only = head_only
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.dashboard_port = _free_port()
        self.dashboard = _dashboard_available()
        self.head: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_port = 0
        self.node_ids: dict[str, str] = {}  # "head" / "worker" -> node id
        self.node_ip = ""  # both nodes': this machine's address

    def start(self) -> None:
        self.head = self._start("head", [
            "--head", "--port", str(self.port), "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(self.dashboard_port), "--include-dashboard", str(self.dashboard).lower(),
        ])
        self.start_worker()

    def start_worker(self) -> None:
        # The worker's own view of the disk: head_only is an empty tmpfs there.
        self.worker_port = _free_port()
        hide = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mount -t tmpfs -o size=1m mtbench-head-only "$0" && exec "$@"', str(self.head_only)]
        self.worker = self._start("worker", ["--address", self.address], wrap=hide, node_manager_port=self.worker_port)
        self.node_ids, self.node_ip = self._nodes()

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.poll() is None

    def kill_worker_raylet(self) -> None:
        """SIGKILL the worker node's raylet, as when the machine dies: the node is lost."""
        assert self.worker is not None
        raylets = [pid for pid in _children(self.worker.pid) if _comm(pid) == "raylet"]
        assert raylets, "the worker node has no raylet"
        os.kill(raylets[0], signal.SIGKILL)

    def kill_replicas(self) -> int:
        """SIGKILL every gen-answer replica (actor process) on both nodes; returns how many."""
        raylets = [pid for proc in (self.head, self.worker) if proc is not None
                   for pid in _children(proc.pid) if _comm(pid) == "raylet"]
        replicas = [pid for raylet in raylets for pid in _children(raylet) if _cmdline(pid).startswith(b"ray::_Replica")]
        for pid in replicas:
            os.kill(pid, signal.SIGKILL)
        return len(replicas)

    def stop(self) -> None:
        for proc in (self.worker, self.head):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        for proc in (self.worker, self.head):
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        # Worker processes whose raylet died first are orphans: every process of this cluster names
        # its temp dir on its command line.
        for pid in _pids_naming(str(self.temp_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _start(self, name: str, args: list[str], wrap: tuple[str, ...] | list[str] = (),
               node_manager_port: int = 0) -> subprocess.Popen:
        log = self.temp_dir / f"{name}.log"
        ports = ["--node-manager-port", str(node_manager_port or _free_port())]
        for flag in ("--object-manager-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                     "--metrics-export-port", "--runtime-env-agent-port"):
            ports += [flag, str(_free_port())]
        with log.open("w") as out:
            proc = subprocess.Popen(
                [*wrap, RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "2",
                 "--object-store-memory", str(80 * 2**20), "--temp-dir", str(self.temp_dir),
                 "--disable-usage-stats", *ports, *args],
                stdout=out, stderr=subprocess.STDOUT, env=ENV, start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start ({name}) failed:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return proc

    def _nodes(self) -> tuple[dict[str, str], str]:
        """Node ids by role and the nodes' address, from the cluster itself (the worker is the node on
        the worker's port)."""
        code = ("import json, ray; ray.init(address=%r, log_to_driver=False); print(json.dumps(["
                "(n['NodeID'], n['NodeManagerPort'], n['NodeManagerAddress']) for n in ray.nodes() if n['Alive']]))")
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run([sys.executable, "-c", code % self.address], capture_output=True, text=True,
                                 env=ENV, timeout=120, check=True)
            nodes = json.loads(out.stdout.strip().splitlines()[-1])
            if len(nodes) == 2 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert len(nodes) == 2 and len({ip for _, _, ip in nodes}) == 1, nodes
        return {("worker" if port == self.worker_port else "head"): node_id for node_id, port, _ in nodes}, nodes[0][2]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _pids_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if text.encode() in _cmdline(int(entry.name)):
                found.append(int(entry.name))
    return found


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
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ours(stderr: str) -> list[str]:
    """mtbench's own lines (Ray adds its connection lines and, when a node dies, the raylet's log)."""
    return [line for line in stderr.splitlines() if line.startswith("mtbench")]


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
    with pytest.raises(UserError, match="--model-path has 2 value.* --model-id has 1"):
        GenAnswerRuns.of(base, ["a", "b"], ["a"])
    with pytest.raises(UserError, match="--model-id a: a already writes"):
        GenAnswerRuns.of(base, ["a", "b"], ["a", "a"])
    with pytest.raises(UserError, match="--answer-file names one file"):
        GenAnswerRuns.of(GenAnswerConfig(model=base.model, answers=base.answers, answer_file=tmp_path / "f.jsonl"),
                         ["a", "b"], ["a", "b"])


def test_cli_model_paths_and_ids_must_pair(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mtbench", "gen-answer", "--model-path", "a", "b", "--model-id", "a",
         "--data-dir", str(tmp_path)], capture_output=True, text=True, env=ENV, cwd=REPO, timeout=120,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--model-path has 2 value(s) but --model-id has 1" in out.stderr


# ---------------------------------------------------------------------------------------------------
# on the two-node cluster


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_node_lost_mid_run_its_work_moves_to_the_other_node_and_nothing_is_lost(cluster, folders, data_dir):
    args = ["--model-path", str(folders["a"]), "--model-id", "a", "--question-end", "30",
            "--max-new-token", "48", "--batch-size", "1"]
    path = data_dir / "mt_bench" / "model_answer" / "a.jsonl"
    worker = cluster.node_ids["worker"]
    # Once the worker node has finished some answers, lose it.
    proc = _run_until(cluster, data_dir, args, lambda answers: any(a["node_id"] == worker for a in answers))
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
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 30
    assert not any("error" in a for a in answers)
    kept = {a["question_id"]: a for a in answers}
    assert from_worker and all(kept[a["question_id"]] == a for a in from_worker)  # nothing finished is lost
    assert {a["node_id"] for a in answers} == set(cluster.node_ids.values())

    again = gen_answer(cluster, data_dir, *args)
    assert again.returncode == 0, again.stderr
    assert "30 of 30 questions already answered" in again.stderr
