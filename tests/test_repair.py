"""`mtbench repair` on real files through the real CLI: torn middle lines, killed runs, wrong kinds, held files."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mtbench.core.record_files import load_answers, load_single_judgments
from mtbench.core.records import Answer, Choice, SingleJudgment, dumps
from mtbench.repair import kind_of
from tests.cli import mtbench

from .conftest import REFERENCE_RUNS

REPO = Path(__file__).resolve().parent.parent
REAL_SINGLE = REFERENCE_RUNS / "third_party_runs" / "muhan421_fastchat-eval" / "model_judgment" / "gpt-4_single.jsonl"


def _judgment(qid: int, turn: int = 1, score: float = 7) -> SingleJudgment:
    return SingleJudgment(question_id=qid, model="m", judge=("gpt-4", "single-v1"), user_prompt=f"prompt {qid}",
                          judgment=f"Rating: [[{score}]]", score=score, turn=turn, tstamp=1.0)


def _answer(qid: int) -> Answer:
    return Answer(question_id=qid, model_id="m", choices=(Choice(0, (f"answer {qid}", "turn 2")),), answer_id=f"a{qid}")


# A judge killed between the two halves of a line (a line a writer puts out in more than one write).
KILLED_WRITER = r"""
import os, sys, time
path, line = sys.argv[1], sys.argv[2].encode()
with open(path, "ab") as f:
    f.write(line[: len(line) // 2])
    f.flush()
    os.fsync(f.fileno())
    print("half written", flush=True)
    time.sleep(60)
    f.write(line[len(line) // 2:])
"""

# FastChat's gen_judgment appends with a plain open(..., "a"): it does not cut a torn tail first.
FASTCHAT_APPENDER = r"""
import sys
with open(sys.argv[1], "a") as f:
    for line in sys.argv[2:]:
        f.write(line)
"""


def _kill_mid_line(path: Path, line: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), line], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "half written\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def test_killed_run_then_an_appending_run_is_repaired_and_reads_again(tmp_path: Path):
    folder = tmp_path / "data" / "mt_bench" / "model_judgment"
    folder.mkdir(parents=True)
    path = folder / "gpt-4_single.jsonl"
    before = [_judgment(qid) for qid in (81, 82, 83)]
    path.write_text("".join(dumps(j) for j in before))
    _kill_mid_line(path, dumps(_judgment(84)))
    after = [_judgment(qid) for qid in (85, 86)]
    subprocess.run([sys.executable, "-c", FASTCHAT_APPENDER, str(path), *(dumps(j) for j in after)], check=True)
    damaged = path.read_bytes()
    torn_line = damaged.split(b"\n")[3]
    assert torn_line.startswith(dumps(_judgment(84)).encode()[:20]) and torn_line.endswith(b"}")  # 84's half + 85

    # show stops at the torn line, and says what to run
    shown = mtbench("show", "--input-file", path)
    assert shown.returncode == 2, shown.stderr
    message = shown.stderr.strip()
    assert message.startswith(f"mtbench show: error: {path}:4: not valid JSON")
    assert message.endswith(f"; run `mtbench repair {path}` to set the bad line aside")
    assert "Traceback" not in shown.stderr

    dry = mtbench("repair", "--dry-run", path)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"{path}:4: not valid JSON")
    assert lines[1] == (f"{path}: would set 1 line aside in {path}.rejected; 4 records would stay "
                        "(dry run: nothing written)")
    assert path.read_bytes() == damaged and not Path(f"{path}.rejected").exists()

    # run the command the error message named, as a user would paste it
    command = message.split("run `", 1)[1].split("`", 1)[0]
    assert shlex.split(command)[:2] == ["mtbench", "repair"]
    done = mtbench(*shlex.split(command)[1:])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{path}: set 1 line aside in {path}.rejected; 4 records kept"
    # 85 was glued onto 84's torn half: it is set aside with it (both are in the side file, byte for byte)
    assert Path(f"{path}.rejected").read_bytes() == torn_line + b"\n"
    assert load_single_judgments(path) == before + after[1:]
    assert mtbench("show", "--input-file", path).returncode == 0
    assert not list(folder.glob(".*.tmp"))
    # nothing a reader globs for picks the side file up as a judge
    assert [p.name for p in folder.glob("*.jsonl")] == ["gpt-4_single.jsonl"]


def test_good_lines_of_a_real_fastchat_file_are_kept_byte_for_byte(tmp_path: Path):
    original = REAL_SINGLE.read_bytes()
    lines = original.split(b"\n")
    path = tmp_path / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir()
    bad = [b'{"question_id": 81, "model": "vicuna', b'[1, 2]', json.dumps({"question_id": 81}).encode()]
    path.write_bytes(b"\n".join(lines[:10] + bad[:2] + lines[10:20] + bad[2:] + lines[20:]))
    done = mtbench("repair", path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        f"{path}:11: not valid JSON (Unterminated string starting at column 30)",
        f"{path}:12: expected a JSON object, got list",
        f"{path}:23: missing field 'judgment'",
    ]
    assert path.read_bytes() == original
    assert Path(f"{path}.rejected").read_bytes() == b"\n".join(bad) + b"\n"


def test_a_second_repair_appends_to_the_side_file_and_a_clean_file_is_not_rewritten(tmp_path: Path):
    path = tmp_path / "model_answer" / "m.jsonl"
    path.parent.mkdir()
    path.write_text(dumps(_answer(81)) + "oops 1\n" + dumps(_answer(82)))
    assert mtbench("repair", path).returncode == 0
    with open(path, "a") as f:
        f.write("oops 2\n" + dumps(_answer(83)))
    assert mtbench("repair", path).returncode == 0
    assert Path(f"{path}.rejected").read_text() == "oops 1\noops 2\n"
    assert sorted(load_answers(path)) == [81, 82, 83]
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    clean = mtbench("repair", path)
    assert clean.returncode == 0
    assert clean.stdout == f"{path}: all 3 lines are answer records; nothing to repair\n"
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (inode, mtime)


def test_a_record_of_another_kind_is_a_bad_line(tmp_path: Path):
    # an answer line in a judgment file parses as JSON but is not a single judgment
    path = tmp_path / "gpt-4_single.jsonl"
    path.write_text(dumps(_judgment(81)) + dumps(_answer(82)) + dumps(_judgment(83)))
    done = mtbench("repair", "--dry-run", path)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == f"{path}:2: missing field 'judgment'"


def test_a_file_held_by_a_judge_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir()
    content = dumps(_judgment(81)) + "torn\n" + dumps(_judgment(82))
    path.write_text(content)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom mtbench.core.records import exclusive_output\n"
         "with exclusive_output(sys.argv[1], 'judge'):\n    print('held', flush=True)\n    time.sleep(60)\n",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = mtbench("repair", path)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert refused.returncode == 2
    # the message names who holds the file, not the command that was refused
    assert refused.stderr.startswith(
        f"mtbench repair: error: another mtbench judge is writing {path} (pid {holder.pid}); wait for it"
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    assert path.read_text() == content and not Path(f"{path}.rejected").exists()


@pytest.mark.parametrize("where, kind", [
    ("data/mt_bench/model_answer/vicuna-13b.jsonl", "answer"),
    ("data/mt_bench/model_answer/x_pair.jsonl", "answer"),  # the folder decides: a model named x_pair
    ("data/mt_bench/reference_answer/gpt-4.jsonl", "answer"),
    ("data/mt_bench/model_judgment/gpt-4_single.jsonl", "single"),
    ("data/mt_bench/model_judgment/gpt-4_pair.jsonl", "pair"),
    ("elsewhere/__path__to__smol_single.jsonl", "single"),
    ("data/mt_bench/question.jsonl", "question"),
    ("data/judge_prompts.jsonl", "judge-prompt"),
])
def test_kind_from_name_and_folder(where: str, kind: str):
    assert kind_of(Path(where)) == kind


def test_a_file_of_unknown_kind_needs_kind_and_nothing_is_touched(tmp_path: Path):
    known = tmp_path / "gpt-4_single.jsonl"
    known.write_text(dumps(_judgment(81)) + "torn\n")
    odd = tmp_path / "judgments-backup.jsonl"
    odd.write_text(dumps(_judgment(81)) + "torn\n" + dumps(_judgment(82)))
    refused = mtbench("repair", known, odd)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"mtbench repair: error: {odd}: cannot tell what it holds")
    assert "--kind {question,answer,judge-prompt,single,pair}" in refused.stderr
    assert known.read_text().endswith("torn\n")  # checked before any file was repaired
    done = mtbench("repair", "--kind", "single", odd)
    assert done.returncode == 0, done.stderr
    assert [j.question_id for j in load_single_judgments(odd)] == [81, 82]


def test_missing_file_and_bad_kind_are_one_line_user_errors(tmp_path: Path):
    missing = mtbench("repair", tmp_path / "nope_single.jsonl")
    assert (missing.returncode, missing.stderr) == (2, f"mtbench repair: error: {tmp_path / 'nope_single.jsonl'}: no such file\n")
    bad_kind = mtbench("repair", "--kind", "judgment", tmp_path / "x.jsonl")
    assert bad_kind.returncode == 2 and "invalid choice: 'judgment'" in bad_kind.stderr


def fill(disk) -> None:
    # SmallDisk.fill's buffered file raises ENOSPC again when it is closed; the disk is full either way
    with contextlib.suppress(OSError):
        disk.fill()


def test_a_full_disk_fails_in_one_line_and_leaves_the_file_as_it_was(tmp_path: Path, small_disk):
    disk = small_disk(tmp_path / "disk", 512)
    path = disk.path / "model_answer" / "m.jsonl"
    path.parent.mkdir()
    shutil.copy(REFERENCE_RUNS / "model_answer" / "vicuna-13b-v1.3.jsonl", path)
    with open(path, "ab") as f:
        f.write(b"torn\n" + dumps(_answer(1000)).encode())
    damaged = path.read_bytes()
    fill(disk)
    failed = mtbench("repair", path)
    assert failed.returncode == 1
    assert failed.stderr.startswith("mtbench repair: error: ") and "No space left on device" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == damaged
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    (disk.path / ".filler").unlink()
    assert mtbench("repair", path).returncode == 0
    assert Path(f"{path}.rejected").read_bytes().startswith(b"torn\n")
    assert len(load_answers(path)) == 81


def test_a_judge_blocked_by_a_torn_middle_line_resumes_after_repair(data_dir: Path, openai_server):
    # the whole loop a user goes through: judge, a judge killed mid-line, a FastChat run appending after
    # it, the next judge refused at file:line, repair, and the judge resuming with every match once
    from tests.test_judge import OFFICIAL, add_answers, judge, single_file

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    openai_server.responder = lambda body: "Rating: [[4]]"
    assert judge(data_dir, openai_server, "--first-n", "2", "--parallel", "1", "--no-progress").returncode == 0
    path = single_file(data_dir)
    first = load_single_judgments(path)
    assert len(first) == 4  # 2 questions x 2 turns
    _kill_mid_line(path, dumps(first[0]))
    subprocess.run([sys.executable, "-c", FASTCHAT_APPENDER, str(path), dumps(first[1])], check=True)
    calls = len(openai_server.chat_requests)

    blocked = judge(data_dir, openai_server, "--first-n", "3", "--parallel", "1", "--no-progress")
    assert blocked.returncode == 2
    assert f"{path}:5: not valid JSON" in blocked.stderr and f"run `mtbench repair {path}`" in blocked.stderr
    assert len(openai_server.chat_requests) == calls  # refused before any paid call

    assert mtbench("repair", path).returncode == 0
    resumed = judge(data_dir, openai_server, "--first-n", "3", "--parallel", "1", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert len(openai_server.chat_requests) == calls + 2  # only question 3's two turns
    judged = load_single_judgments(path)
    assert len(judged) == 6 and len({j.key for j in judged}) == 6
