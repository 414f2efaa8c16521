"""Shared fixtures. The MT-bench data and FastChat reference runs are read from ../shared (never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MTBENCH_SHARED", REPO.parent / "shared"))
MT_BENCH_DATA = SHARED / "mt_bench"
REFERENCE_RUNS = SHARED / "mt_bench_reference"


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
