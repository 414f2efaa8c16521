"""The Python API (``import mtbench``): the commands as functions over their configs, typed results and
errors, nothing printed, and the command line calling the same functions.

The model and the judge are the scripted loopback server; the judge rates every first turn 8 and every
second turn 5, so each number in the tables is known by hand.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import cli
from tests.openai_server import OpenAITestServer, completion

MODEL = "scripted-model"
JUDGE = "judge-x"
ENV = {"OPENAI_API_KEY": "sk-api-test", "OPENAI_BASE_URL": None}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "guides"


def reply(body: dict):
    last = body["messages"][-1]["content"]
    if body["model"] == JUDGE:
        second_turn = "Conversation with User" in last  # FastChat's multi-turn judge prompt
        return completion(f"Rating: [[{5 if second_turn else 8}]]", model=JUDGE)
    return completion(f"An answer to: {last[:40]}", model=MODEL)


@pytest.fixture()
def server(monkeypatch):
    for name, value in ENV.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with OpenAITestServer(reply) as s:
        yield s


def options(data_dir: Path, server: OpenAITestServer) -> dict:
    return {"model": MODEL, "base_url": server.base_url, "judge_model": JUDGE, "judge_base_url": server.base_url,
            "data_dir": data_dir, "question_end": 3}


def test_evaluate_returns_the_tables_files_and_usage_and_prints_nothing(data_dir, server, capfd):
    import mtbench

    evaluation = mtbench.evaluate(**options(data_dir, server))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # no bar, no plan, no step line

    assert evaluation.exit_code == 0
    scores = evaluation.scores
    assert scores is not None and scores.models == (MODEL,)
    assert scores.score() == pytest.approx(6.5)  # (3 x 8 + 3 x 5) / 6
    assert scores.per_turn.loc[MODEL].tolist() == [8.0, 5.0]
    assert scores.per_category[MODEL].to_dict() == {"writing": 6.5}  # questions 81-83 are writing
    assert scores.metrics() == {"mtbench/score": 6.5, "mtbench/turn_1": 8.0, "mtbench/turn_2": 5.0,
                                "mtbench/n_failed": 0.0, "mtbench/category/writing": 6.5}
    answers = data_dir / "mt_bench" / "model_answer" / f"{MODEL}.jsonl"
    judgments = data_dir / "mt_bench" / "model_judgment" / f"{JUDGE}_single.jsonl"
    assert evaluation.files == mtbench.Files((answers,), judgments, None)
    assert evaluation.judged is not None and evaluation.judged.written == 6
    assert evaluation.usage.calls == 6 and evaluation.usage.prompt_tokens == 6 * 11
    assert evaluation.answers is not None and evaluation.answers.models[0].answered == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        evaluation.exit_code = 1  # type: ignore[misc]


def test_the_steps_one_by_one_give_what_evaluate_gives_and_what_show_prints(data_dir, server, capfd):
    import mtbench

    answers = mtbench.generate_answers(model=MODEL, base_url=server.base_url, data_dir=str(data_dir),
                                       question_end=3)
    assert [m.answered for m in answers.models] == [3]
    announced: list[str] = []
    judged = mtbench.judge(judge_model=JUDGE, judge_base_url=server.base_url, data_dir=data_dir, first_n=3,
                           announce=announced.append)
    assert judged.written == 6 and judged.usage.calls == 6 and judged.failures == {}
    assert any(line.startswith("plan") or "match" in line for line in announced)  # the plan, to announce
    scores = mtbench.scores(judge_model=JUDGE, data_dir=data_dir)
    assert scores.score(MODEL) == pytest.approx(6.5)
    assert capfd.readouterr() == ("", "")

    shown = cli.mtbench("show", "--judge-model", JUDGE, "--data-dir", str(data_dir), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert '"overall": 6.5' in shown.stdout
    again = mtbench.judge(judge_model=JUDGE, judge_base_url=server.base_url, data_dir=data_dir, first_n=3)
    assert again.summary is None and again.written == 0  # resumed: nothing left to judge

    mtbench.generate_answers(model=MODEL, base_url=server.base_url, data_dir=data_dir, question_end=5,
                             progress=True)  # asked for: the bar the command shows
    assert "2/2" in capfd.readouterr().err


def test_a_config_object_is_taken_as_is(data_dir, server):
    import mtbench
    from mtbench.core.bench import BenchLayout
    from mtbench.show_result import ShowConfig

    mtbench.evaluate(**options(data_dir, server))
    config = ShowConfig(layout=BenchLayout(data_dir=data_dir), judge_model=JUDGE, n_bootstrap=0)
    assert mtbench.scores(config).score() == pytest.approx(6.5)
    with pytest.raises(mtbench.ConfigError, match="judge_model: give a config or keyword options, not both"):
        mtbench.scores(config, judge_model=JUDGE)


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.judge(judge_modle="x"), "judge_modle: not an option of judge; did you mean judge_model?"),
    (lambda m: m.judge(parallel=0), "parallel must be at least 1, got 0"),
    (lambda m: m.evaluate(model="m", base_url="http://127.0.0.1:9", judge_parallel=0),
     "judge_parallel must be at least 1, got 0"),
    (lambda m: m.scores(mode="pairwise-baseline", baseline_model=""),
     "mode pairwise-baseline needs baseline_model"),
    (lambda m: m.generate_answers(per_category=1), "model_path (a local model) or model and base_url"),
    (lambda m: m.evaluate(progres=True), "progres: not an option of evaluate (mtbench run's options); did you "
                                         "mean progress?"),
])
def test_a_bad_option_is_a_config_error_naming_the_keyword(call, message):
    import mtbench

    with pytest.raises(mtbench.ConfigError) as raised:
        call(mtbench)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, mtbench.MTBenchError) and raised.value.exit_code == 2


def test_the_cli_prints_the_same_error_naming_the_flag(data_dir):
    done = cli.mtbench("run", "--model", "m", "--base-url", "http://127.0.0.1:9", "--judge-parallel", "0",
                       "--data-dir", str(data_dir))
    assert (done.returncode, done.stderr) == (2, "mtbench run: error: --judge-parallel must be at least 1, got 0\n")


def test_a_run_that_cannot_finish_raises_run_failed(data_dir, monkeypatch):
    import mtbench
    from tests.openai_server import error

    monkeypatch.setenv("OPENAI_API_KEY", "sk-api-test")
    with OpenAITestServer(lambda body: error(400, "no such model")) as s:
        with pytest.raises(mtbench.RunFailed, match="no such model"):
            mtbench.generate_answers(model=MODEL, base_url=s.base_url, data_dir=data_dir, question_end=2)


def test_import_mtbench_loads_no_heavy_library():
    code = ("import sys, mtbench; heavy = {'torch', 'pandas', 'openai', 'transformers', 'ray', 'numpy'}; "
            "print(sorted(heavy & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=cli.process_env(), check=True)
    assert done.stdout.strip() == "[]"


def test_the_guides_example_runs(data_dir, server, tmp_path, monkeypatch):
    """docs/guides/python-api.md's example, as written, against the loopback server."""
    page = (DOCS / "python-api.md").read_text()
    example = re.search(r"```python\n(.*?)```", page, re.S).group(1)  # type: ignore[union-attr]
    for written, here in (("http://127.0.0.1:8000/v1", server.base_url), ("https://api.openai.com/v1", server.base_url),
                          ("my-model", MODEL), ("gpt-4o-mini", JUDGE)):
        assert written in example
        example = example.replace(written, here)
    assert data_dir == tmp_path / "data"
    monkeypatch.chdir(tmp_path)  # the example's data folder is ./data, as the command's
    namespace: dict = {}
    exec(compile(example, "python-api.md", "exec"), namespace)
    assert namespace["evaluation"].scores.score() == pytest.approx(6.5)
