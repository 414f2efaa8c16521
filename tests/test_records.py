"""The record layer against every real FastChat file we have, and against broken, torn and killed files."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mtbench.core import records
from mtbench.core.answer_file import answer_run
from mtbench.core.bench import CATEGORIES
from mtbench.core.errors import UserError
from mtbench.core.record_files import (
    load_answers,
    load_judge_prompts,
    load_pair_judgments,
    load_questions,
    load_single_judgments,
)
from mtbench.core.records import Answer, Choice, JsonlWriter, RecordError, load_records, rewrite_jsonl

from .conftest import MT_BENCH_DATA, REFERENCE_RUNS

OFFICIAL_ANSWERS = REFERENCE_RUNS / "model_answer"
THIRD_PARTY = REFERENCE_RUNS / "third_party_runs"
MUHAN = THIRD_PARTY / "muhan421_fastchat-eval"
STEFAN = THIRD_PARTY / "Stefanstud_FastChat"
REFERENCE_SETS = ("gpt-4", "gpt-4-0125-preview")


def _loader(path: Path):
    """The loader FastChat's layout implies for ``path``, returning a list of records."""
    if path.name == "question.jsonl":
        return load_questions
    if path.name == "judge_prompts.jsonl":
        return lambda p: list(load_judge_prompts(p).values())
    if path.parent.name == "model_judgment":
        return load_pair_judgments if path.name.endswith("_pair.jsonl") else load_single_judgments
    return lambda p: load_records(p, Answer.from_json)


def _real_files() -> list[Path]:
    files = [
        MT_BENCH_DATA / "question.jsonl",
        MT_BENCH_DATA / "judge_prompts.jsonl",
        *(MT_BENCH_DATA / "reference_answer" / f"{name}.jsonl" for name in REFERENCE_SETS),
        *sorted(OFFICIAL_ANSWERS.glob("*.jsonl")),
        *sorted(THIRD_PARTY.glob("*/model_answer/*.jsonl")),
        *sorted(THIRD_PARTY.glob("*/model_judgment/*.jsonl")),
    ]
    return files


REAL_FILES = _real_files()


def test_every_real_file_is_listed():
    # 4 MT-bench files + 31 official answer files + 4 third-party answer files + 3 judgment files
    assert len(REAL_FILES) == 42, [str(p) for p in REAL_FILES]
    assert all(p.is_file() for p in REAL_FILES)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(p.parents[2])))
@pytest.mark.slow
def test_real_file_round_trips(path: Path, tmp_path: Path):
    load = _loader(path)
    loaded = load(path)
    assert loaded
    copy = tmp_path / path.name
    rewrite_jsonl(copy, loaded)
    assert load(copy) == loaded
    # Our writer is FastChat's json.dumps, so the bytes come back too (the corrected reference set alone
    # lacks a final newline, which the rewrite adds).
    original = path.read_bytes()
    assert copy.read_bytes() == (original if original.endswith(b"\n") else original + b"\n")


def test_round_trip_through_append_writer(tmp_path: Path):
    path = OFFICIAL_ANSWERS / "vicuna-13b-v1.3.jsonl"
    loaded = load_records(path, Answer.from_json)
    copy = tmp_path / "copy.jsonl"
    with JsonlWriter(copy) as writer:
        for answer in loaded:
            writer.write(answer)
    assert load_records(copy, Answer.from_json) == loaded
    assert copy.read_bytes() == path.read_bytes()


def test_question_set_counts():
    questions = load_questions(MT_BENCH_DATA / "question.jsonl")
    assert len(questions) == 80
    assert [q.question_id for q in questions] == list(range(81, 161))
    assert Counter(q.category for q in questions) == {c: 10 for c in CATEGORIES}
    # categories come in blocks of ten, in CATEGORIES order (writing 81-90 ... humanities 151-160)
    assert [questions[i * 10].category for i in range(8)] == list(CATEGORIES)
    assert all(len(q.turns) == 2 and all(q.turns) for q in questions)
    assert sum(q.reference is not None for q in questions) == 39


@pytest.mark.parametrize("name", REFERENCE_SETS)
def test_reference_sets(name: str):
    refs = load_answers(MT_BENCH_DATA / "reference_answer" / f"{name}.jsonl")
    assert sorted(refs) == list(range(101, 131))  # reasoning, math, coding
    assert {a.model_id for a in refs.values()} == {name}
    assert all(len(a.turns) == 2 and all(a.turns) and not a.failed for a in refs.values())


def test_references_differ_where_the_corrected_set_fixes_them():
    old = load_answers(MT_BENCH_DATA / "reference_answer" / "gpt-4.jsonl")
    new = load_answers(MT_BENCH_DATA / "reference_answer" / "gpt-4-0125-preview.jsonl")
    # q111's triangle: the original reference says area 0, the hint (and the corrected set) say 3
    assert "3" in new[111].turns[0] and new[111].turns != old[111].turns


def test_judge_prompts():
    prompts = load_judge_prompts(MT_BENCH_DATA / "judge_prompts.jsonl")
    assert sorted(prompts) == sorted([
        "pair-v2", "pair-v2-multi-turn", "pair-math-v1", "pair-math-v1-multi-turn",
        "single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn",
    ])
    assert {p.type for p in prompts.values()} == {"single", "pairwise"}
    assert prompts["single-v1"].output_format == "[[rating]]"
    assert prompts["pair-v2"].output_format == "[[A]]"


def test_official_answer_files():
    files = sorted(OFFICIAL_ANSWERS.glob("*.jsonl"))
    assert len(files) == 31
    for path in files:
        answers = load_answers(path)
        assert sorted(answers) == list(range(81, 161)), path


@pytest.mark.parametrize(
    "stem, model_id",
    [
        ("vicuna-13b-v1.3", "vicuna-13b-hao-0515"),
        ("vicuna-33b-v1.3", "vicuna-30b-gpt4"),
        ("rwkv-4-raven-14b", "RWKV-4-Raven-14B"),
        ("gpt-4", "gpt-4"),
    ],
)
def test_model_id_can_differ_from_file_name(stem: str, model_id: str):
    answers = load_answers(OFFICIAL_ANSWERS / f"{stem}.jsonl")
    assert {a.model_id for a in answers.values()} == {model_id}


def test_empty_turn_is_an_answer_not_a_failure():
    answer = load_answers(OFFICIAL_ANSWERS / "llama-13b.jsonl")[127]
    assert answer.turns[0] == ""
    assert answer.turns[1].startswith("Human: How about finding the top-3")
    assert not answer.failed


def test_fastchat_failure_texts_in_official_files_are_failures():
    # gen_model_answer wrote "ERROR" when generation raised; those are failures, never answers to judge.
    failed = {
        stem: sorted(q for q, a in load_answers(OFFICIAL_ANSWERS / f"{stem}.jsonl").items() if a.failed)
        for stem in ("dolly-v2-12b", "oasst-sft-4-pythia-12b", "gpt-4")
    }
    assert failed == {"dolly-v2-12b": [154], "oasst-sft-4-pythia-12b": [140, 158], "gpt-4": []}
    answer = load_answers(OFFICIAL_ANSWERS / "dolly-v2-12b.jsonl")[154]
    assert answer.failure == "turn 2 is FastChat's failure text 'ERROR'"


def test_float_scores_survive():
    judgments = load_single_judgments(MUHAN / "model_judgment" / "gpt-4_single.jsonl")
    assert len(judgments) == 320
    floats = sorted((j.question_id, j.turn, j.score) for j in judgments if isinstance(j.score, float))
    assert floats == [(91, 1, 8.5), (93, 2, 9.5), (144, 1, 9.5), (145, 1, 8.5)]
    assert not any(j.failed for j in judgments)


def test_pair_file_with_error_winners():
    judgments = load_pair_judgments(STEFAN / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(judgments) == 75
    assert {j.turn for j in judgments} == {1}
    assert not {126, 127, 128, 129, 130} & {j.question_id for j in judgments}
    failed = [(j.question_id, j.g1_winner, j.g2_winner) for j in judgments if j.failed]
    assert failed == [(124, "model_1", "error"), (125, "error", "error")]
    # FastChat judges the reference categories (ids 101-130) with the math prompt
    for j in judgments:
        assert j.judge == ("gpt-4", "pair-math-v1" if 101 <= j.question_id <= 130 else "pair-v2")


def test_file_without_final_newline_loads_without_warning(caplog):
    # the corrected reference set ends without "\n": a complete last line, not a torn one
    path = MT_BENCH_DATA / "reference_answer" / "gpt-4-0125-preview.jsonl"
    assert not path.read_bytes().endswith(b"\n")
    with caplog.at_level(logging.WARNING, logger="mtbench"):
        assert len(load_answers(path)) == 30
    assert caplog.records == []


# ---------------------------------------------------------------------------------------------------
# malformed input: each case is the exact one-line message a user sees

QUESTION = {"question_id": 81, "category": "writing", "turns": ["a", "b"]}
ANSWER = {"question_id": 81, "answer_id": "x", "model_id": "m", "choices": [{"index": 0, "turns": ["a", "b"]}],
          "tstamp": 1.0}
SINGLE = {"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": "p",
          "judgment": "Rating: [[7]]", "score": 7, "turn": 1, "tstamp": 1.0}
PAIR = {"question_id": 81, "model_1": "a", "model_2": "b", "g1_winner": "model_1", "g2_winner": "tie",
        "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "p", "g1_judgment": "[[A]]", "g2_user_prompt": "p",
        "g2_judgment": "[[C]]", "turn": 1, "tstamp": 1.0}
PROMPT = {"name": "single-v1", "type": "single", "system_prompt": "s", "prompt_template": "t",
          "description": "d", "category": "general", "output_format": "[[rating]]"}


def _with(base: dict, **changes) -> bytes:
    obj = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            del obj[key]
        else:
            obj[key] = value
    return json.dumps(obj).encode()


_DROP = object()
GOOD_Q = json.dumps(QUESTION).encode()

MALFORMED = [
    ("bad-json", load_questions, [GOOD_Q, b'{"question_id": 82,'], 2,
     "not valid JSON (Expecting property name enclosed in double quotes at column 20)"),
    ("unterminated-string", load_questions, [b'{"category": "ab'], 1,
     "not valid JSON (Unterminated string starting at column 14)"),
    ("extra-data", load_questions, [b'{"question_id": 81}}'], 1, "not valid JSON (Extra data at column 20)"),
    ("not-an-object", load_questions, [GOOD_Q, b"[81, 82]"], 2, "expected a JSON object, got list"),
    ("missing-field", load_questions, [_with(QUESTION, category=_DROP)], 1, "missing field 'category'"),
    ("wrong-type", load_questions, [_with(QUESTION, question_id="q81")], 1,
     "field 'question_id' must be an integer, got \"q81\""),
    ("bool-is-not-an-id", load_questions, [_with(QUESTION, question_id=True)], 1,
     "field 'question_id' must be an integer, got true"),
    ("turns-not-a-list", load_questions, [_with(QUESTION, turns="hello")], 1,
     "field 'turns' must be a list of strings, got \"hello\""),
    ("turns-item-not-a-string", load_questions, [_with(QUESTION, turns=["a", 3])], 1,
     "field 'turns' must be a list of strings; item 1 is 3"),
    ("question-without-turns", load_questions, [_with(QUESTION, turns=[])], 1, "field 'turns' is empty"),
    ("duplicate-question-id", load_questions, [GOOD_Q, _with(QUESTION, category="math"), GOOD_Q], 2,
     "duplicate question_id 81 (first on line 1)"),
    ("empty-choices", load_answers, [_with(ANSWER, choices=[])], 1, "field 'choices' is empty"),
    ("choice-not-an-object", load_answers, [_with(ANSWER, choices=["a"])], 1,
     "choices[0] must be an object, got \"a\""),
    ("choice-turns-item", load_answers, [_with(ANSWER, choices=[{"index": 0, "turns": [None]}])], 1,
     "choices[0]: field 'turns' must be a list of strings; item 0 is null"),
    ("bad-winner", load_pair_judgments, [_with(PAIR, g2_winner="A")], 1,
     "field 'g2_winner' must be one of model_1, model_2, tie, error; got \"A\""),
    ("bad-judge-field", load_single_judgments, [_with(SINGLE, judge=["gpt-4"])], 1,
     "field 'judge' must be [judge_model, prompt_name], got [\"gpt-4\"]"),
    ("judge-not-a-list", load_pair_judgments, [_with(PAIR, judge="gpt-4")], 1,
     "field 'judge' must be a list [judge_model, prompt_name], got \"gpt-4\""),
    ("score-not-a-number", load_single_judgments, [_with(SINGLE, score="9")], 1,
     "field 'score' must be a number, got \"9\""),
    ("turn-zero", load_single_judgments, [_with(SINGLE, turn=0)], 1, "field 'turn' must be 1 or more, got 0"),
    ("judge-prompt-type", load_judge_prompts, [_with(PROMPT, type="multi")], 1,
     "field 'type' must be \"single\" or \"pairwise\", got \"multi\""),
    ("duplicate-prompt-name", load_judge_prompts, [_with(PROMPT), b"", _with(PROMPT)], 3,
     "duplicate judge prompt name 'single-v1'"),
    ("invalid-utf8", load_questions, [GOOD_Q, b'{"question_id": 82, "category": "\xff"}'], 2, "not valid UTF-8"),
]


@pytest.mark.parametrize("loader, lines, line, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_line_is_one_exact_error(tmp_path: Path, loader, lines, line, message):
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(RecordError) as info:
        loader(path)
    # a line that is not a record says how to set it aside; a repeat is a choice repair does not make
    fix = "" if message.startswith("duplicate") else f"; run `mtbench repair {path}` to set the bad line aside"
    assert str(info.value) == f"{path}:{line}: {message}{fix}"


def test_missing_file_is_a_user_error(tmp_path: Path):
    with pytest.raises(RecordError) as info:
        load_questions(tmp_path / "nope.jsonl")
    assert str(info.value) == f"{tmp_path / 'nope.jsonl'}: no such file"


def test_duplicate_answer_lines_last_wins_with_warning(tmp_path: Path, caplog):
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b"\n".join([
            _with(ANSWER, choices=[{"index": 0, "turns": ["first", "x"]}]),
            _with(ANSWER, question_id=82),
            _with(ANSWER, choices=[{"index": 0, "turns": ["second", "y"]}]),
        ]) + b"\n"
    )
    with caplog.at_level(logging.WARNING, logger="mtbench"):
        answers = load_answers(path)
    assert sorted(answers) == [81, 82]
    assert answers[81].turns == ("second", "y")
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: read as FastChat reads it: 1 repeated row(s), the last line wins: question 81 on line 3 "
        "(first on line 1)"
    ]


# ---------------------------------------------------------------------------------------------------
# torn and killed writes


def _answer(i: int, text: str = "text") -> Answer:
    return Answer(question_id=i, model_id="m", choices=(Choice(0, (f"{text} {i}", "turn 2")),), answer_id=f"a{i}")


@pytest.mark.parametrize("fragment", [b'{"question_id": 3, "model_id": "m", "cho', b'{"question_id": 3, "t": "\xe2\x82'])
def test_torn_last_line_is_warned_and_skipped(tmp_path: Path, caplog, fragment: bytes):
    path = tmp_path / "m.jsonl"
    rewrite_jsonl(path, [_answer(1), _answer(2)])
    with open(path, "ab") as f:
        f.write(fragment)
    with caplog.at_level(logging.WARNING, logger="mtbench"):
        answers = load_answers(path)
    assert sorted(answers) == [1, 2]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}:3: incomplete last line (a run stopped mid-write); ignored"
    ]


def test_torn_line_in_the_middle_is_an_error(tmp_path: Path):
    # only the last line can be a write cut short; a broken line followed by more lines is corruption
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"question_id": 1, "mod\n' + records.dumps(_answer(2)).encode())
    with pytest.raises(RecordError, match=r"m\.jsonl:1: not valid JSON"):
        load_answers(path)


def test_writer_repairs_a_torn_tail_before_appending(tmp_path: Path, caplog):
    path = tmp_path / "m.jsonl"
    rewrite_jsonl(path, [_answer(1), _answer(2)])
    with open(path, "ab") as f:
        f.write(records.dumps(_answer(3)).encode()[:25])
    with caplog.at_level(logging.WARNING, logger="mtbench"), JsonlWriter(path) as writer:
        writer.write(_answer(4))
    assert any("dropping an incomplete last line" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mtbench"):
        answers = load_answers(path)
    assert sorted(answers) == [1, 2, 4] and answers[4] == _answer(4)
    assert caplog.records == []


def test_writer_keeps_a_complete_last_line_that_lacks_its_newline(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(records.dumps(_answer(1)).encode().rstrip(b"\n"))
    with JsonlWriter(path) as writer:
        writer.write(_answer(2))
    assert load_answers(path) == {1: _answer(1), 2: _answer(2)}


CHILD = r"""
import sys
from mtbench.core.records import Answer, Choice, JsonlWriter
path, size = sys.argv[1], int(sys.argv[2])
with JsonlWriter(path) as writer:
    i = 0
    while True:
        writer.write(Answer(question_id=i, model_id="m", choices=(Choice(0, (str(i) * size, "x")),), answer_id=f"a{i}"))
        print(i + 1, flush=True)  # reported only after write() returned, i.e. after the flush
        i += 1
"""


@pytest.mark.parametrize("record_size", [100, 300_000])
def test_sigkill_mid_stream_keeps_every_flushed_record(tmp_path: Path, record_size: int):
    path = tmp_path / "killed.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(record_size)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    reported = 0
    try:
        for line in child.stdout:
            reported = int(line)
            if reported >= 40:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert reported >= 40
    answers = load_answers(path)  # never raises: at most a torn last line, warned about
    # every reported record is there and intact; the child may have written a few more before it died
    assert sorted(answers) == list(range(len(answers)))
    assert len(answers) >= reported
    for i in range(reported):
        assert answers[i].turns == (str(i) * record_size, "x")
    # and appending after the kill leaves a clean file
    with JsonlWriter(path) as writer:
        writer.write(_answer(10_000))
    assert sorted(load_answers(path))[-1] == 10_000


# ---------------------------------------------------------------------------------------------------
# atomic rewrites: a full disk, two processes, permissions


def _fill(disk) -> None:
    # SmallDisk.fill's buffered file raises ENOSPC again when it is closed; the disk is full either way
    with contextlib.suppress(OSError):
        disk.fill()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_rewrite_on_a_full_disk_leaves_the_file_and_no_temp_and_a_run_with_nothing_to_write_passes(
    tmp_path: Path, small_disk
):
    disk = small_disk(tmp_path / "disk", 256)
    path = disk.path / "model_answer" / "m.jsonl"
    path.parent.mkdir()
    rewrite_jsonl(path, [_answer(i) for i in range(5)])
    original = path.read_bytes()
    _fill(disk)
    with pytest.raises(OSError) as info:
        rewrite_jsonl(path, [_answer(i, "x" * 2000) for i in range(200)])  # ~400 KB: cannot fit
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == original
    assert _leftovers(path.parent) == []
    # a later answer run with nothing new to write (the file is in order) neither rewrites nor fails
    with answer_run(path, "gen-api-answer"):
        pass
    assert path.read_bytes() == original and _leftovers(path.parent) == []


REWRITER = r"""
import sys
from mtbench.core.records import Answer, Choice, rewrite_jsonl
path, text = sys.argv[1], sys.argv[2]
records = [Answer(question_id=i, model_id=text, choices=(Choice(0, (text * 5000, "x")),)) for i in range(20)]
for _ in range(40):
    rewrite_jsonl(path, records)
"""


def test_two_processes_rewriting_one_file_never_share_a_temp_file(tmp_path: Path):
    # With one temp name per file (the old ``m.jsonl.tmp``), one process renames the temp file the other
    # is still writing: a mixed file, or the other's rename fails with FileNotFoundError.
    path = tmp_path / "m.jsonl"
    children = [
        subprocess.Popen([sys.executable, "-c", REWRITER, str(path), text], stderr=subprocess.PIPE, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
        for text in ("a", "b")
    ]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0], errors
    models = {a.model_id for a in load_answers(path).values()}
    assert models in ({"a"}, {"b"})  # one process's whole file, never a mix
    assert len(load_answers(path)) == 20
    assert _leftovers(tmp_path) == []


def test_rewrite_keeps_the_file_permissions(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text(records.dumps(_answer(2)) + records.dumps(_answer(1)))
    path.chmod(0o644)
    rewrite_jsonl(path, [_answer(1), _answer(2)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # a temp file's 0600 would hide it from other users
    assert sorted(load_answers(path)) == [1, 2]


def test_per_category_takes_the_first_n_of_each_category_in_file_order(tmp_path):
    from mtbench.core.answer_file import first_per_category, select_questions
    from tests.conftest import MT_BENCH_DATA

    questions = select_questions(MT_BENCH_DATA / "question.jsonl", None, None, per_category=2)
    assert len(questions) == 16
    assert Counter(q.category for q in questions) == dict.fromkeys(
        ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"], 2)
    assert [q.question_id for q in questions[:4]] == [81, 82, 91, 92]
    # after the slice: one per category of the first 20 questions is one writing and one roleplay question
    assert [q.question_id for q in select_questions(MT_BENCH_DATA / "question.jsonl", 0, 20, 1)] == [81, 91]
    assert first_per_category(questions, None) == questions
    with pytest.raises(UserError, match="--per-category must be at least 1, got 0"):
        first_per_category(questions, 0)
