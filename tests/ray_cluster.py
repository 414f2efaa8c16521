"""A real two-node Ray cluster on this machine, for tests: each node a `ray start --block` process, as a
user starts one on each machine of a cluster; stopping the process stops the node.

The worker node runs in its own mount namespace in which ``head_only`` is an empty tmpfs: that folder is
on the head's disk only, as a path is on one machine of a real cluster and not on the others (needs root
and ``unshare``). Ray maps ``--node-ip-address 127.0.0.1`` to this machine's own address; nothing leaves
the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REPO
from tests.helpers import free_port

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
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.dashboard_port = free_port()
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
        self.worker_port = free_port()
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
        ports = ["--node-manager-port", str(node_manager_port or free_port())]
        for flag in ("--object-manager-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                     "--metrics-export-port", "--runtime-env-agent-port"):
            ports += [flag, str(free_port())]
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
