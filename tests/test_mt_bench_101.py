"""MT-Bench-101 by its own protocol: golden history on the wire, the paper's task prompts (read, never run),
skipped first turns, references, per-dialogue minimum, stratified bootstrap tables; kill -9 and rerun.

The bench's files are copied from ../shared/benchmarks/mt_bench_101 into a temporary data dir; the answering
model and the judge are scripted on a loopback OpenAI-compatible server, and once a tiny local model answers.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.mt_bench_101.data import TASKS, load_dialogues, load_prompts
from mtbench.mt_bench_101.scores import dialogue_scores, model_scores
from tests.cli import mtbench
from tests.conftest import SHARED
from tests.helpers import lines
from tests.killing import kill_after_lines
from tests.openai_server import OpenAITestServer

SOURCE = SHARED / "benchmarks" / "mt_bench_101"
BENCH = "mt_bench_101"
KEY = {"OPENAI_API_KEY": "sk-test"}
SKIP_FIRST = {"FR", "CR", "AR", "SA", "SC", "CM"}  # the paper's skip_first_tasks, as its code lists them


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / BENCH).mkdir(parents=True)
    for name in ("mtbench101.jsonl", "opencompass_mtbench101.py"):
        shutil.copy(SOURCE / name, d / BENCH / name)
    return d


@pytest.fixture(scope="module")
def dialogues():
    return load_dialogues(SOURCE / "mtbench101.jsonl")


def first_per_task(dialogues, n=1):
    seen: dict[str, int] = {}
    out = []
    for d in dialogues:
        seen[d.task] = seen.get(d.task, 0) + 1
        if seen[d.task] <= n:
            out.append(d)
    return out


def answering(body) -> str:
    return f"OWN-ANSWER {len(body['messages'])}"  # the model's own words, recognisable on the wire


def judged_turn(user_prompt: str) -> int:
    return user_prompt.count("\n\n Human: ")


def scripted_judge(body) -> str:
    """A judge with a set bias: turn 1 scores 2, every later turn 9 (so a skipped first turn shows)."""
    messages = body["messages"]
    if messages[0]["role"] != "system":
        return answering(body)
    return "Explanation. Rating: [[2]]" if judged_turn(messages[1]["content"]) == 1 else "Fine. Rating: [[9]]"


def answer_args(data: Path, url: str, *extra: str) -> list[str]:
    return ["gen-api-answer", "--model", "m1", "--base-url", url, "--data-dir", str(data), "--bench-name", BENCH,
            "--no-progress", *extra]


def judge_args(data: Path, url: str, *extra: str) -> list[str]:
    return ["judge", "--judge-model", "judge-x", "--judge-base-url", url, "--data-dir", str(data), "--bench-name",
            BENCH, "--no-progress", *extra]


# ---------------------------------------------------------------------------------------------------
# the paper's files, read as data


def test_dataset_and_prompts_are_read_as_the_paper_has_them(dialogues):
    assert len(dialogues) == 1388 and sum(len(d.users) for d in dialogues) == 4208
    assert {d.task for d in dialogues} == set(TASKS) and len(TASKS) == 13
    prompts = load_prompts(SOURCE / "opencompass_mtbench101.py")
    assert prompts.skip_first == SKIP_FIRST and prompts.need_ref == {"MR", "GR"}
    cm = prompts.system_prompt("CM")
    assert cm.startswith("Please act as an impartial judge follow this instructions")
    assert "recall and utilize previously mentioned information" in cm and cm.endswith("DIALGUE \n ***")
    assert "'Rating: [[score]]'" in cm
    # CR and FR share one text in the file; every task has its own entry
    assert prompts.task_prompts["CR"] == prompts.task_prompts["FR"] != prompts.task_prompts["SC"]


def test_prompt_file_is_parsed_never_run(tmp_path: Path):
    text = (SOURCE / "opencompass_mtbench101.py").read_text()
    trap = tmp_path / "trap.py"
    # code that would stop the process (or import a missing package) if the file were executed
    trap.write_text("import os\nos._exit(7)\nraise SystemExit(9)\n" + text)
    assert load_prompts(trap).skip_first == SKIP_FIRST
    broken = tmp_path / "broken.py"
    broken.write_text(text.replace("score_format = ", "score_format_x = "))
    with pytest.raises(UserError, match=r"broken\.py: no module-level str constant 'score_format'"):
        load_prompts(broken)


def test_bad_dialogue_line_is_one_line_naming_file_and_line(data: Path):
    path = data / BENCH / "mtbench101.jsonl"
    rows = path.read_text().splitlines()
    rows[2] = json.dumps({"task": "XX", "id": 3, "history": [{"user": "u", "bot": "b"}]})
    path.write_text("\n".join(rows) + "\n")
    r = mtbench(*answer_args(data, "http://127.0.0.1:9/v1"), env=KEY)
    assert r.returncode == 2, r.stderr
    assert "mtbench101.jsonl:3: field 'task' must be one of CM" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------------------------------------------
# scores: hand-computed


def test_dialogue_score_is_the_minimum_of_its_judged_turns_and_needs_every_one():
    assert dialogue_scores({2: 7.0, 3: 4.0}, [2, 3]) == 4.0
    assert dialogue_scores({1: 1.0, 2: 7.0, 3: 4.0}, [2, 3]) == 4.0  # turn 1 not judged by the protocol
    assert dialogue_scores({2: 7.0, 3: None}, [2, 3]) is None  # a failed judgment
    assert dialogue_scores({2: 7.0}, [2, 3]) is None  # a turn not judged yet
    assert dialogue_scores({}, []) is None


def test_task_ability_level_overall_and_their_intervals_by_hand():
    # CM: dialogues 4 and 6 -> mean 5; AR: one dialogue, 8; nothing else judged.
    table = model_scores("m", {"CM": [4.0, 6.0], "AR": [8.0]}, incomplete=1, n_bootstrap=2000, seed=0,
                         confidence=0.95)
    rows = {(r.kind, r.name): r for r in table.rows}
    assert (rows["task", "CM"].score, rows["task", "AR"].score, rows["task", "SI"].score) == (5.0, 8.0, None)
    # two values: a resampled mean is 4 (p 1/4), 5 (1/2) or 6 (1/4), so the 95% interval is [4, 6]
    assert (rows["task", "CM"].low, rows["task", "CM"].high) == (4.0, 6.0)
    assert (rows["task", "AR"].low, rows["task", "AR"].high) == (8.0, 8.0)
    assert rows["ability", "Understanding"].score == 8.0 and rows["ability", "Understanding"].dialogues == 1
    assert rows["ability", "Reasoning"].score is None
    # Perceptivity = mean of its task means (CM 5, AR 8) = 6.5, not the pooled dialogue mean (6)
    perc = rows["level", "Perceptivity"]
    assert (perc.score, perc.dialogues) == (6.5, 3)
    # its resamples are (CM* + 8) / 2 with CM* in {4, 5, 6}: the interval is [6, 7]
    assert (perc.low, perc.high) == (6.0, 7.0)
    assert rows["overall", "Overall"].score == 6.5
    assert (table.dialogues, table.incomplete) == (3, 1)
    # the same seed gives the same intervals
    again = model_scores("m", {"CM": [4.0, 6.0], "AR": [8.0]}, 1, 2000, 0, 0.95)
    assert again == table
    wide = model_scores("m", {"CM": list(np.linspace(1, 10, 40))}, 0, 1000, 3, 0.95)
    cm = next(r for r in wide.rows if r.name == "CM")
    assert cm.low is not None and cm.high is not None and cm.low < cm.score < cm.high


# ---------------------------------------------------------------------------------------------------
# end to end on a loopback endpoint


def test_answer_judge_show_on_the_wire(data: Path, dialogues):
    picked = first_per_task(dialogues)
    by_id = {d.dialogue_id: d for d in picked}
    with OpenAITestServer(scripted_judge) as server:
        r = mtbench(*answer_args(data, server.base_url, "--per-task", "1", "--parallel", "3"), env=KEY)
        assert r.returncode == 0, r.stderr
        asked = [q.body["messages"] for q in server.chat_requests]
        # every user turn of every picked dialogue, once, after the golden history: never the model's answers
        assert len(asked) == sum(len(d.users) for d in picked)
        expected = []
        for d in picked:
            for k in range(1, len(d.users) + 1):
                want = [m for u, b in zip(d.users[: k - 1], d.bots[: k - 1], strict=True)
                        for m in ({"role": "user", "content": u}, {"role": "assistant", "content": b})]
                expected.append(want + [{"role": "user", "content": d.users[k - 1]}])
        assert sorted(map(json.dumps, asked)) == sorted(map(json.dumps, expected))
        assert not any("OWN-ANSWER" in m["content"] for messages in asked for m in messages)
        answers = lines(data / BENCH / "model_answer" / "m1.jsonl")
        assert [a["question_id"] for a in answers] == sorted(by_id)
        for a in answers:
            assert len(a["choices"][0]["turns"]) == len(by_id[a["question_id"]].users) and a["history"] == "golden"

        server.requests.clear()
        r = mtbench(*judge_args(data, server.base_url, "--parallel", "4"), env=KEY)
        assert r.returncode == 0, r.stderr
        sent = [q.body["messages"] for q in server.chat_requests]
        prompts = load_prompts(SOURCE / "opencompass_mtbench101.py")
        want_turns = sum(len(d.users) - (d.task in SKIP_FIRST) for d in picked)
        assert len(sent) == want_turns and f"to judge {want_turns}" in r.stdout
        records = lines(data / BENCH / "model_judgment" / "judge-x_single.jsonl")
        assert len(records) == want_turns
        for rec in records:
            d = by_id[rec["question_id"]]
            assert (rec["dialogue_id"], rec["task"], rec["protocol"]) == (d.dialogue_id, d.task, "mt_bench_101")
            assert rec["judge"] == ["judge-x", f"mt-bench-101-{d.task}"]
            assert not (d.task in SKIP_FIRST and rec["turn"] == 1)
            turn = rec["turn"]
            assert judged_turn(rec["user_prompt"]) == turn
            assert rec["user_prompt"].endswith(f"OWN-ANSWER {2 * turn - 1} \n ***" if d.task not in ("MR", "GR")
                                               else f" \n {d.bots[turn - 1]} \n ###\n\n")
            assert rec["score"] == (2 if turn == 1 else 9)
            system = next(m for m in sent if m[1]["content"] == rec["user_prompt"])[0]["content"]
            assert system == prompts.judge + prompts.task_prompts[d.task] + prompts.score_format
        # a rerun has nothing left to judge
        again = mtbench(*judge_args(data, server.base_url), env=KEY)
        assert again.returncode == 0 and "nothing to judge" in again.stdout, again.stdout

    shown = mtbench("show", "--judge-model", "judge-x", "--data-dir", str(data), "--bench-name", BENCH,
                    "--format", "json")
    assert shown.returncode == 0, shown.stderr
    (table,) = json.loads(shown.stdout)
    rows = {(r["kind"], r["name"]): r for r in table["rows"]}
    # the biased judge: a task that judges turn 1 scores its minimum, 2; one that skips it scores 9
    for task in TASKS:
        assert rows["task", task]["score"] == (9.0 if task in SKIP_FIRST else 2.0), task
    assert rows["level", "Interactivity"]["score"] == 2.0  # IC, PI
    assert rows["ability", "Understanding"]["score"] == (9.0 + 2.0) / 2  # AR skips turn 1, SI does not
    assert rows["overall", "Overall"]["score"] == pytest.approx((6 * 9 + 7 * 2) / 13)
    text = mtbench("show", "--judge-model", "judge-x", "--data-dir", str(data), "--bench-name", BENCH)
    assert text.returncode == 0 and "Perceptivity" in text.stdout and "95% CI" in text.stdout


def test_a_failed_judgment_leaves_its_dialogue_out_and_is_counted(data: Path, dialogues):
    target = first_per_task(dialogues)[0]  # GR, dialogue 1

    def judge(body) -> str:
        messages = body["messages"]
        if messages[0]["role"] == "system" and target.users[-1] in messages[1]["content"]:
            return "no verdict here"
        return scripted_judge(body)

    with OpenAITestServer(judge) as server:
        assert mtbench(*answer_args(data, server.base_url, "--per-task", "1", "--parallel", "4"), env=KEY).returncode == 0
        r = mtbench(*judge_args(data, server.base_url, "--parallel", "4"), env=KEY)
        assert r.returncode == 0 and "--retry-failed" in r.stdout, r.stdout
    shown = mtbench("show", "--judge-model", "judge-x", "--data-dir", str(data), "--bench-name", BENCH,
                    "--format", "json")
    (table,) = json.loads(shown.stdout)
    gr = next(r for r in table["rows"] if r["name"] == "GR")
    assert (table["incomplete"], table["dialogues"], gr["score"], gr["dialogues"]) == (1, 12, None, 0)
    pair = mtbench(*judge_args(data, "http://127.0.0.1:9/v1", "--mode", "pairwise-all"), env=KEY)
    assert pair.returncode == 2 and "single mode only" in pair.stderr
    plot = mtbench("show", "--judge-model", "judge-x", "--data-dir", str(data), "--bench-name", BENCH,
                   "--plot", str(data / "r.png"))
    assert plot.returncode == 2 and "--plot is not available for MT-Bench-101" in plot.stderr, plot.stderr


@pytest.mark.slow  # a real process (its imports), killed
def test_kill_9_then_rerun_answers_every_dialogue_exactly_once(data: Path, dialogues):
    picked = first_per_task(dialogues)
    with OpenAITestServer(answering, latency=0.05) as server:
        args = answer_args(data, server.base_url, "--per-task", "1", "--parallel", "2")
        path = data / BENCH / "model_answer" / "m1.jsonl"
        held = kill_after_lines(args, path, 3, env=KEY)
        assert 3 <= held < len(picked)
        before = len(server.chat_requests)
        r = mtbench(*args, env=KEY)
        assert r.returncode == 0, r.stderr
        asked = [(len(q.body["messages"]), q.body["messages"][-1]["content"]) for q in server.chat_requests]
    ids = [a["question_id"] for a in lines(path)]
    assert ids == sorted(d.dialogue_id for d in picked)  # each dialogue once
    # every turn asked once, but those in flight at the kill (at most --parallel of them)
    assert len(asked) - len(set(asked)) <= 2 and len(set(asked)) == sum(len(d.users) for d in picked)
    assert before < len(asked)


@pytest.mark.slow  # a real process (its imports), killed
def test_kill_9_then_rerun_judges_every_turn_exactly_once(data: Path, dialogues):
    picked = first_per_task(dialogues)
    with OpenAITestServer(scripted_judge, latency=0.05) as server:
        assert mtbench(*answer_args(data, server.base_url, "--per-task", "1", "--parallel", "8"), env=KEY).returncode == 0
        path = data / BENCH / "model_judgment" / "judge-x_single.jsonl"
        args = judge_args(data, server.base_url, "--parallel", "2")
        held = kill_after_lines(args, path, 5, env=KEY)
        want = sum(len(d.users) - (d.task in SKIP_FIRST) for d in picked)
        assert 5 <= held < want
        r = mtbench(*args, env=KEY)
        assert r.returncode == 0 and f"already judged {held}" in r.stdout, r.stdout
    keys = [(j["dialogue_id"], j["turn"]) for j in lines(path)]
    assert len(keys) == len(set(keys)) == want  # each judged turn exactly once


@pytest.mark.slow  # the tiny random model: torch and transformers imports
def test_local_model_answers_on_the_golden_history(data: Path, dialogues, tmp_path: Path):
    from mtbench.core.templates import conversation
    from mtbench.gen_model_answer import (
        AnswerSettings,
        GenAnswerConfig,
        ModelSpec,
        gen_model_answer,
        load_generator,
    )
    from tests.models import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "tiny")
    inner = load_generator(ModelSpec(path=str(model_dir), batch_size=8))
    seen: list[str] = []

    class Recording:
        template = inner.template

        def generate(self, prompts, params):
            seen.extend(prompts)
            return inner.generate(prompts, params)

    cfg = GenAnswerConfig(model=ModelSpec(path="unused"), answers=AnswerSettings(model_id="rec", max_new_token=3),
                          layout=BenchLayout(data_dir=data, bench_name=BENCH), question_end=2, progress=False)
    summary = gen_model_answer(cfg, generator_factory=lambda spec: Recording())
    assert (summary.written, summary.failed) == (2, 0)
    answers = lines(data / BENCH / "model_answer" / "rec.jsonl")
    assert [len(a["choices"][0]["turns"]) for a in answers] == [len(d.users) for d in dialogues[:2]]
    assert all(a["history"] == "golden" for a in answers)
    want = [inner.template.render(conversation(d.users[:k], d.bots[: k - 1]))
            for d in dialogues[:2] for k in range(1, len(d.users) + 1)]
    assert sorted(seen) == sorted(want)


# ---------------------------------------------------------------------------------------------------
# mtbench run: download, answers, judge and the protocol's tables in one command


def graded_judge(body) -> str:
    """A judge whose score says which turn it saw: turn 1 scores 3, turn t > 1 scores 11 - t (at least 1)."""
    messages = body["messages"]
    if messages[0]["role"] != "system":
        return answering(body)
    turn = judged_turn(messages[1]["content"])
    return f"Rating: [[{3 if turn == 1 else max(1, 11 - turn)}]]"


def table_scores(text: str) -> dict[str, str]:
    """The score column of the text table, by task code and by 'Overall'."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(task|overall)\s+(\w+)(?: \([^)]*\))?\s+(\S+)\s", line)
        if m:
            out[m.group(2)] = m.group(3)
    return out


def test_run_end_to_end_downloads_answers_on_golden_history_judges_and_prints_the_task_table(tmp_path, dialogues):
    data = tmp_path / "data"  # empty: the run fetches the bench's two files (--from, sha256 checked)
    picked = first_per_task(dialogues)
    run_args = ["run", "--model", "m1", "--base-url", "", "--judge-model", "judge-x", "--judge-base-url", "",
                "--data-dir", str(data), "--bench-name", BENCH, "--per-task", "1", "--from", str(SOURCE),
                "--no-progress", "--parallel", "4", "--judge-parallel", "4"]
    with OpenAITestServer(graded_judge) as server:
        args = [server.base_url if a == "" else a for a in run_args]
        r = mtbench(*args, env=KEY)
        assert r.returncode == 0, r.stderr
        asked = [q.body["messages"] for q in server.chat_requests]
        answer_calls = [m for m in asked if m[0]["role"] != "system"]
        judge_calls = [m for m in asked if m[0]["role"] == "system"]
        # each user turn once, after the golden history (never the model's own answers)
        assert len(answer_calls) == sum(len(d.users) for d in picked)
        assert not any("OWN-ANSWER" in m["content"] for messages in answer_calls for m in messages)
        want_turns = sum(len(d.users) - (d.task in SKIP_FIRST) for d in picked)
        assert len(judge_calls) == want_turns
        assert "fetched 2 file(s)" in r.stdout
        assert "13 question(s), 0 already answered, 13 to generate" in r.stdout
        assert f"to judge {want_turns}" in r.stdout

        # by hand: a dialogue scores its lowest judged turn; a task with one dialogue scores it
        def score(turn: int) -> int:
            return 3 if turn == 1 else max(1, 11 - turn)

        expected = {d.task: min(score(t) for t in range(2 if d.task in SKIP_FIRST else 1, len(d.users) + 1))
                    for d in picked}
        assert len(set(expected.values())) > 1  # the table has more than one value to get right
        shown = table_scores(r.stdout)
        assert {t: shown[t] for t in TASKS} == {t: f"{expected[t]:.2f}" for t in TASKS}
        assert shown["Overall"] == f"{sum(expected.values()) / 13:.2f}"
        assert "MT-Bench-101, m1: 13 dialogue(s) scored" in r.stdout
        assert "judgments: " in r.stdout and "judge-x_single.jsonl" in r.stdout

        # run again: nothing is asked, the same table; with --report: refused before any call
        server.requests.clear()
        again = mtbench(*args, env=KEY)
        assert again.returncode == 0 and not server.chat_requests, again.stderr
        assert table_scores(again.stdout) == shown
        refused = mtbench(*args, "--report", str(tmp_path / "r.html"), env=KEY)
        assert refused.returncode == 2 and not server.chat_requests
        assert refused.stderr.strip() == ("mtbench run: error: mtbench report does not know mt_bench_101 (scored by the "
                                          "mt_bench_101 protocol) yet: its tables are `mtbench show --bench-name "
                                          "mt_bench_101`"), refused.stderr


def test_report_browse_and_a_jury_refuse_the_bench_in_one_line(data: Path):
    for command, extra in (("report", ("--out", str(data / "r.html"))), ("browse", ("--port", "0"))):
        r = mtbench(command, "--data-dir", str(data), "--bench-name", BENCH, *extra)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert f"mtbench {command} does not know mt_bench_101" in r.stderr
    assert not (data / "r.html").exists()
    # run: a jury has no MT-Bench-101 equivalent, refused before any call (the endpoint is not listening)
    jury = mtbench("run", "--model", "m1", "--base-url", "http://127.0.0.1:9/v1", "--judge-model", "a", "b",
                   "--data-dir", str(data), "--bench-name", BENCH, "--per-task", "1", "--no-progress", env=KEY)
    assert jury.returncode == 2 and "mt_bench_101 takes one judge per run" in jury.stderr, jury.stderr
