"""Headless Chromium for the browse/report tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright is only the client here: it launches the system browser (``executable_path``) and never
downloads one. Tests that need the browser skip, saying why, where Chromium or Playwright is absent
(CI installs Chromium with scripts/setup.sh).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MTBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def require_browser() -> None:
    """Skip the calling test, with the reason, when the browser or its Python client is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Chromium (scripts/setup.sh: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install -e '.[test]')")


@contextmanager
def chromium() -> Iterator[object]:
    """A launched headless Chromium (a Playwright ``Browser``) with a fresh profile, closed afterwards."""
    require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright must never fetch a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    profile = tempfile.mkdtemp(prefix="mtbench-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class BrowseServer:
    """``mtbench browse`` as a subprocess on 127.0.0.1; ``url`` is what it printed once it listens."""

    def __init__(self, *args: str, timeout: float = 30.0):
        self.args = args
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> BrowseServer:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # stderr goes to a file: an unread pipe would block a server that logs a lot.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mtbench", "browse", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        # Wait for the line saying where it listens; give up (and say why) if it never comes.
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if " at http://" not in line:
            self._stop()
            self.stderr.seek(0)
            err = self.stderr.read()
            self.stderr.close()
            raise AssertionError(f"mtbench browse did not start (exit code {self.proc.returncode}): {line!r} {err}")
        self.url = line.split(" at ", 1)[1].split(" ", 1)[0]
        return self

    def __exit__(self, *exc) -> None:
        self._stop()
        self.stderr.close()

    def log(self) -> str:
        """What the server wrote to stderr so far (its warnings)."""
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------------
# a data dir for browse/report: real FastChat runs plus a hostile model


XSS_TURNS = (
    "Sure!<script>window.__xss=1</script> **bold** and `code`",
    'Look: <img src=x onerror="window.__xss=2"> and </div><b>not bold</b>',
)
XSS_MODEL = "xss-model"
FAILED_ANSWER_REASON = "generation failed: CUDA out of memory"


def make_browse_data(data_dir: Path, reference_runs: Path) -> Path:
    """Fill a FastChat data dir (the ``data_dir`` fixture) with two real third-party runs and synthetic cases.

    Real: muhan421's single judgments (two Claude models) and Stefanstud's pairwise judgments (phi-3 vs
    phi-3-dpo), with their answers. Synthetic: ``xss-model``, whose answer to question 81 carries script
    and an onerror image, whose answer to 82 failed; a judgment of it with markup in the explanation, one
    that found no rating (FastChat's -1), and pairwise matches against claude-3-5-sonnet: one decided,
    one where the two games disagree.
    """
    import json

    bench = data_dir / "mt_bench"
    answers, judgments = bench / "model_answer", bench / "model_judgment"
    answers.mkdir(parents=True, exist_ok=True)
    judgments.mkdir(parents=True, exist_ok=True)
    muhan = reference_runs / "third_party_runs" / "muhan421_fastchat-eval"
    stefan = reference_runs / "third_party_runs" / "Stefanstud_FastChat"
    for f in (muhan / "model_answer").glob("*.jsonl"):
        shutil.copy(f, answers / f.name)
    for f in (stefan / "model_answer").glob("*.jsonl"):
        shutil.copy(f, answers / f.name)
    single = (muhan / "model_judgment" / "gpt-4_single.jsonl").read_text()
    pair = (stefan / "model_judgment" / "gpt-4_pair.jsonl").read_text()

    def line(obj: dict) -> str:
        return json.dumps(obj) + "\n"

    (answers / f"{XSS_MODEL}.jsonl").write_text(
        line(
            {
                "question_id": 81,
                "answer_id": "a81",
                "model_id": XSS_MODEL,
                "choices": [{"index": 0, "turns": list(XSS_TURNS)}],
                "tstamp": 1.0,
            }
        )
        + line(
            {
                "question_id": 82,
                "answer_id": "a82",
                "model_id": XSS_MODEL,
                "error": FAILED_ANSWER_REASON,
                "choices": [{"index": 0, "turns": ["partial"]}],
                "tstamp": 1.0,
            }
        )
    )
    single += line(
        {
            "question_id": 81,
            "model": XSS_MODEL,
            "judge": ["gpt-4", "single-v1"],
            "user_prompt": "p",
            "judgment": 'Tries <img src=x onerror="window.__xss=3">. Rating: [[3]]',
            "score": 3,
            "turn": 1,
            "tstamp": 1.0,
        }
    )
    single += line(
        {
            "question_id": 81,
            "model": XSS_MODEL,
            "judge": ["gpt-4", "single-v1-multi-turn"],
            "user_prompt": "p",
            "judgment": "I cannot rate this.",
            "score": -1,
            "turn": 2,
            "tstamp": 1.0,
        }
    )
    base = {
        "question_id": 81,
        "model_1": "claude-3-5-sonnet-20240620",
        "model_2": XSS_MODEL,
        "g1_user_prompt": "p",
        "g2_user_prompt": "p",
        "tstamp": 1.0,
    }
    pair += line(
        {
            **base,
            "judge": ["gpt-4", "pair-v2"],
            "turn": 1,
            "g1_winner": "model_1",
            "g2_winner": "model_1",
            "g1_judgment": "A is better. [[A]]",
            "g2_judgment": "B is better. [[B]]",
        }
    )
    pair += line(
        {
            **base,
            "judge": ["gpt-4", "pair-v2-multi-turn"],
            "turn": 2,
            "g1_winner": "model_1",
            "g2_winner": "model_2",
            "g1_judgment": "A wins <script>window.__xss=4</script> [[A]]",
            "g2_judgment": "A wins again. [[A]]",
        }
    )
    (judgments / "gpt-4_single.jsonl").write_text(single)
    (judgments / "gpt-4_pair.jsonl").write_text(pair)
    return data_dir


PATH_JUDGE = "/path/to/smol-hf"  # how `transformers serve` names a local model


def copy_data(data_dir: Path, root: Path) -> Path:
    """A copy of a data dir that a test may change."""
    return Path(shutil.copytree(data_dir, root / "data"))


def judge_three_times(data_dir: Path, judge: str = "gpt-4") -> Path:
    """Rewrite ``judge``'s single judgments as `mtbench judge --judge-samples 3` would have: each record three
    times, ``sample`` 0..2, a valid score s judged s, s+1 (capped at 10) and s. Returns the file."""
    import json

    path = data_dir / "mt_bench" / "model_judgment" / f"{judge}_single.jsonl"
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for sample, bump in enumerate((0, 1, 0)):
            valid = record["score"] >= 0
            score = min(10, record["score"] + bump) if valid else record["score"]
            out.append(json.dumps({**record, "score": score, "sample": sample}) + "\n")
    path.write_text("".join(out))
    return path


def rename_judge(data_dir: Path, judge: str, new_name: str, file_stem: str) -> None:
    """Make ``judge``'s judgment files ``new_name``'s, as `mtbench judge --judge-model NEW_NAME` would have
    written them: named ``FILE_STEM_single/_pair.jsonl``, every record's judge[0] the new name."""
    import json

    judged = data_dir / "mt_bench" / "model_judgment"
    for kind in ("single", "pair"):
        old = judged / f"{judge}_{kind}.jsonl"
        lines = [json.loads(x) for x in old.read_text().splitlines() if x.strip()]
        for obj in lines:
            obj["judge"] = [new_name, obj["judge"][1]]
        (judged / f"{file_stem}_{kind}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        old.unlink()


def break_answer_file(data_dir: Path, model: str) -> Path:
    """Put a line that is not JSON in the middle of ``model``'s answer file (not a torn tail); its path."""
    path = data_dir / "mt_bench" / "model_answer" / f"{model}.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    return path


def make_data_dir(root: Path, mt_bench_data: Path) -> Path:
    """A FastChat data dir under ``root`` with the real MT-bench question, prompt and reference files."""
    d = root / "data"
    (d / "mt_bench" / "reference_answer").mkdir(parents=True)
    shutil.copy(mt_bench_data / "judge_prompts.jsonl", d / "judge_prompts.jsonl")
    shutil.copy(mt_bench_data / "question.jsonl", d / "mt_bench" / "question.jsonl")
    for f in (mt_bench_data / "reference_answer").glob("*.jsonl"):
        shutil.copy(f, d / "mt_bench" / "reference_answer" / f.name)
    return d


def settle(page, action) -> None:
    """Run ``action`` (which makes the page re-render) and wait until the page says it has rendered."""
    before = page.evaluate("() => document.body.dataset.ready || ''")
    action()
    page.wait_for_function("(before) => (document.body.dataset.ready || '') !== before", arg=before)
