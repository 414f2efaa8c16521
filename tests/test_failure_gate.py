"""The failure gate (issue 24, part 3): a judge that gives no verdict in more than --max-failure-rate of a
run's replies ends the judge step with exit 1 and one line; `show` and `report` warn above its tables.

A scripted judge on loopback answers the first N requests without a verdict and the rest with one, so
the rate is set by hand: 49 of 100 replies (passes at the default 0.5) and 51 of 100 (exit 1).
"""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from tests.cli import mtbench
from tests.conftest import REFERENCE_RUNS, REPO
from tests.test_judge import add_answers, judge

MODEL = REFERENCE_RUNS / "model_answer" / "alpaca-13b.jsonl"


def failing_first(n: int):
    """A responder whose first ``n`` replies carry no [[rating]]; every later one is 'Rating: [[5]]'."""
    count = itertools.count()
    lock = threading.Lock()

    def respond(body) -> str:
        with lock:
            i = next(count)
        return "I cannot decide." if i < n else "Fine.\n\nRating: [[5]]"
    return respond


# --first-n 50 with one model: 50 questions x 2 turns = 100 single replies.
@pytest.mark.parametrize(("failed", "code"), [(49, 0), (51, 1)])
def test_failure_gate_at_half(data_dir, openai_server, failed, code):
    add_answers(data_dir, MODEL)
    openai_server.responder = failing_first(failed)
    out = judge(data_dir, openai_server, "--first-n", "50", "--parallel", "4", "--no-progress")
    assert out.returncode == code, out.stderr
    assert len(openai_server.chat_requests) == 100
    assert f"failed: {failed} judge call(s) gave no verdict" in out.stdout  # the summary is shown either way
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    if code == 0:
        assert errors == []
        return
    assert errors == [
        "mtbench judge: error: gpt-4 gave no verdict in 51 of 100 replies (51%), more than --max-failure-rate 0.5: "
        "try a stronger judge, or --force-verdict with a judge that exposes log-probabilities (a local judge, "
        "or a vLLM server)"
    ]


def test_failure_gate_threshold_is_a_flag(data_dir, openai_server):
    add_answers(data_dir, MODEL)
    openai_server.responder = failing_first(30)
    out = judge(data_dir, openai_server, "--first-n", "50", "--max-failure-rate", "0.25", "--no-progress")
    assert out.returncode == 1
    assert "30 of 100 replies (30%), more than --max-failure-rate 0.25" in out.stderr
    bad = judge(data_dir, openai_server, "--max-failure-rate", "1.5")
    assert bad.returncode == 2
    assert "--max-failure-rate must be between 0 and 1, got 1.5" in bad.stderr


# --------------------------------------------------------------------------------------------------
# show, report and browse warn above a table whose judge failed on more than a tenth of its matches

@pytest.mark.parametrize(("failed", "warned"), [(10, False), (11, True)])
@pytest.mark.slow
def test_show_report_browse_warn_above_the_tables(data_dir, openai_server, tmp_path, failed, warned):
    add_answers(data_dir, MODEL)
    openai_server.responder = failing_first(failed)
    assert judge(data_dir, openai_server, "--first-n", "50", "--no-progress").returncode == 0
    warning = (f"warning: the judge (gpt-4) gave no verdict on {failed} of 100 matches ({failed}%); these numbers "
               f"rest on the other {100 - failed}: try a stronger judge, or --force-verdict with a judge that "
               "exposes log-probabilities")
    shown = mtbench("show", "--data-dir", data_dir, "--bootstrap", "0", cwd=REPO)
    assert shown.returncode == 0, shown.stderr
    assert (shown.stdout.splitlines()[0] == warning) is warned
    assert (warning in shown.stdout) is warned
    as_json = mtbench("show", "--data-dir", data_dir, "--bootstrap", "0", "--format", "json", cwd=REPO)

    assert json.loads(as_json.stdout)["warning"] == (warning if warned else None)  # what browse's board reads
    html_file = tmp_path / "r.html"
    made = mtbench("report", "--data-dir", data_dir, "--out", html_file, "--bootstrap", "0", cwd=REPO)
    assert made.returncode == 0, made.stderr
    html = html_file.read_text()
    assert ('id="failure-warning"' in html) is warned
    if warned:
        assert html.index('id="failure-warning"') < html.index("<table")
    app = (REPO / "mtbench" / "webview" / "static" / "app.js").read_text()
    assert 'if (data.warning) parts.push(el("p", { class: "warning", id: "failure-warning" }' in app


def test_gate_under_run_names_runs_flag(tmp_path):
    """`mtbench run` maps the gate's field to its own flag (the same name: judge's flags are run's)."""
    from mtbench.core.options import fields_within
    from mtbench.gen_judgment.failures import JudgeCannotJudge, check_failure_rate

    with pytest.raises(JudgeCannotJudge) as caught, fields_within("judge"):
        check_failure_rate(158, 160, 0.5, "smollm")
    assert caught.value.exit_code == 1
    assert caught.value.fields == ("judge.max_failure_rate", "judge.force_verdict")
    assert str(caught.value).startswith("smollm gave no verdict in 158 of 160 replies (99%)")
