"""Judge prompts and verdict parsing against real FastChat runs (pure functions, no network).

Every judgment row of the two third-party FastChat runs in ../shared is rebuilt from that run's answers:
the user prompt must be byte-identical, and parsing the recorded judgment must give the recorded score
or winners.
"""

from __future__ import annotations

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.record_files import load_answers, load_judge_prompts, load_questions
from mtbench.core.records import Answer, Choice
from mtbench.gen_judgment import (
    PairMatch,
    SingleMatch,
    build_matches,
    game_winner,
    judge_messages,
    parse_rating,
    parse_verdict,
    prompt_name,
)
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS
from tests.helpers import lines as rows

RUNS = REFERENCE_RUNS / "third_party_runs"
MUHAN = RUNS / "muhan421_fastchat-eval"
STEFAN = RUNS / "Stefanstud_FastChat"


@pytest.fixture(scope="module")
def bench():
    questions = load_questions(MT_BENCH_DATA / "question.jsonl")
    prompts = load_judge_prompts(MT_BENCH_DATA / "judge_prompts.jsonl")
    refs = load_answers(MT_BENCH_DATA / "reference_answer" / "gpt-4.jsonl")
    return questions, prompts, refs


def run_answers(run_dir):
    return {p.stem: load_answers(p) for p in sorted((run_dir / "model_answer").glob("*.jsonl"))}


# ---------------------------------------------------------------------------------------------------
# byte-identical prompts


@pytest.mark.parametrize("run_dir", [MUHAN, STEFAN], ids=["muhan421", "Stefanstud"])
def test_single_prompts_equal_every_recorded_fastchat_prompt(bench, run_dir):
    questions, prompts, refs = bench
    answers = run_answers(run_dir)
    recorded = rows(run_dir / "model_judgment" / "gpt-4_single.jsonl")
    models = sorted({r["model"] for r in recorded})
    matches, skips = build_matches("single", questions, models, answers, prompts, refs, "gpt-4")
    assert not skips
    by_key = {(m.question_id, m.model, m.turn): m for m in matches}
    assert len(by_key) == len(matches) == 160 * len(models)
    for row in recorded:
        match = by_key[(row["question_id"], row["model"], row["turn"])]
        assert ["gpt-4", match.prompt.name] == row["judge"], row["question_id"]
        assert match.user_prompt == row["user_prompt"], (row["question_id"], row["model"], row["turn"])
    assert len(recorded) == {MUHAN: 320, STEFAN: 160}[run_dir]


def test_pair_prompts_equal_every_recorded_fastchat_prompt(bench):
    questions, prompts, refs = bench
    answers = run_answers(STEFAN)
    recorded = rows(STEFAN / "model_judgment" / "gpt-4_pair.jsonl")
    matches, _ = build_matches(
        "pairwise-baseline", questions, ["phi-3"], answers, prompts, refs, "gpt-4", baseline="phi-3-dpo"
    )
    by_key = {(m.question_id, m.model_1, m.model_2, m.turn): m for m in matches}
    assert len(recorded) == 75
    for row in recorded:
        match = by_key[(row["question_id"], row["model_1"], row["model_2"], row["turn"])]
        assert ["gpt-4", match.prompt.name] == row["judge"]
        assert match.g1_user_prompt == row["g1_user_prompt"], row["question_id"]
        assert match.g2_user_prompt == row["g2_user_prompt"], row["question_id"]
    # pairwise-all over [phi-3, phi-3-dpo] is the same match (i < j in list order).
    all_pairs, _ = build_matches("pairwise-all", questions, ["phi-3", "phi-3-dpo"], answers, prompts, refs, "gpt-4")
    assert [m.g1_user_prompt for m in all_pairs] == [m.g1_user_prompt for m in matches]


# ---------------------------------------------------------------------------------------------------
# parsing the recorded judgments


def single_rows():
    return rows(MUHAN / "model_judgment" / "gpt-4_single.jsonl") + rows(STEFAN / "model_judgment" / "gpt-4_single.jsonl")


def test_parse_rating_gives_every_recorded_score():
    recorded = single_rows()
    assert len(recorded) == 480
    floats = 0
    for row in recorded:
        score = parse_rating(row["judgment"])
        expected = None if row["score"] == -1 else row["score"]
        assert score == expected and type(score) is type(expected), (row["question_id"], row["judgment"][-80:])
        floats += isinstance(score, float)
    assert floats == 4  # the run's 8.5-style scores stay floats, as ast.literal_eval gives


def test_parse_verdict_gives_every_recorded_winner():
    recorded = rows(STEFAN / "model_judgment" / "gpt-4_pair.jsonl")
    seen = set()
    for row in recorded:
        for game in (1, 2):
            winner = game_winner(parse_verdict(row[f"g{game}_judgment"]), game)
            assert winner == row[f"g{game}_winner"], (row["question_id"], game)
            seen.add(winner)
    assert seen == {"model_1", "model_2", "tie", "error"}


@pytest.mark.parametrize(
    "text, score",
    [
        ("Rating: [[7]]", 7),
        ("Rating: [[8.5]]", 8.5),
        ("Rating: [[8.]]", 8.0),
        ("[[3]] first wins over [[9]]", 3),
        ("backup [6] only", 6),
        ("cites [1] then rates [[4]]", 4),  # the double-bracket pattern is searched first
        ("Rating: [[08]]", 8),  # FastChat's literal_eval raises here; we read 8
        ("Rating: 7/10", None),
        ("[[seven]]", None),
        ("", None),
    ],
)
def test_parse_rating_cases(text, score):
    result = parse_rating(text)
    assert result == score and type(result) is type(score)


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("[[A]]", "A"),
        ("so [[B]]", "B"),
        ("[[C]]", "tie"),
        ("Output [[A]] if A is better... Final: [[B]]", "A"),  # FastChat's substring order, kept
        ("[A]", None),  # no single-bracket fallback for pairwise
        ("", None),
    ],
)
def test_parse_verdict_cases(text, verdict):
    assert parse_verdict(text) == verdict


def test_two_score_format():
    assert parse_verdict("[[7, 3]]", "[[rating_a,rating_b]]") == "A"
    assert parse_verdict("[2,9]", "[[rating_a,rating_b]]") == "B"
    assert parse_verdict("[[5, 5.05]]", "[[rating_a,rating_b]]") == "tie"
    assert parse_verdict("none", "[[rating_a,rating_b]]") is None


@pytest.mark.parametrize("verdict, g1, g2", [("A", "model_1", "model_2"), ("B", "model_2", "model_1"),
                                             ("tie", "tie", "tie"), (None, "error", "error")])
def test_game_two_swaps_positions(verdict, g1, g2):
    assert (game_winner(verdict, 1), game_winner(verdict, 2)) == (g1, g2)


# ---------------------------------------------------------------------------------------------------
# prompt choice, messages, match construction


def test_prompt_choice_by_category_and_turn():
    assert prompt_name("single", "writing", 1) == "single-v1"
    assert prompt_name("single", "math", 1) == "single-math-v1"
    assert prompt_name("single", "coding", 2) == "single-math-v1-multi-turn"
    assert prompt_name("single", "stem", 2) == "single-v1-multi-turn"
    assert prompt_name("pairwise-all", "reasoning", 1) == "pair-math-v1"
    assert prompt_name("pairwise-all", "humanities", 2) == "pair-v2-multi-turn"


def test_messages_are_system_then_user(bench):
    _, prompts, _ = bench
    prompt = prompts["pair-v2"]
    assert judge_messages(prompt, "U") == [
        {"role": "system", "content": prompt.system_prompt}, {"role": "user", "content": "U"}
    ]
    assert prompts["single-v1"].system_prompt == "You are a helpful assistant."


def fake_answer(model, qid, turns=("t1", "t2"), error=None):
    return Answer(question_id=qid, model_id=model, choices=(Choice(0, tuple(turns)),), error=error)


def test_match_order_and_pairs_follow_fastchat(bench):
    questions, prompts, refs = bench
    qs = [q for q in questions if q.question_id in (81, 101, 82)]  # writing, reasoning, writing
    models = ["a", "b", "c"]
    answers = {m: {q.question_id: fake_answer(m, q.question_id) for q in qs} for m in models}
    single, _ = build_matches("single", qs, models, answers, prompts, refs, "gpt-4")
    assert [(m.question_id, m.turn, m.model) for m in single][:7] == [
        (81, 1, "a"), (81, 1, "b"), (81, 1, "c"), (82, 1, "a"), (82, 1, "b"), (82, 1, "c"), (101, 1, "a"),
    ]
    assert [(m.question_id, m.turn) for m in single][9::3] == [(81, 2), (82, 2), (101, 2)]
    assert all(isinstance(m, SingleMatch) for m in single)
    everyone, _ = build_matches("pairwise-all", qs, models, answers, prompts, refs, "gpt-4")
    assert [(m.model_1, m.model_2) for m in everyone[:3]] == [("a", "b"), ("a", "c"), ("b", "c")]
    base, _ = build_matches("pairwise-baseline", qs, models, answers, prompts, refs, "gpt-4", baseline="b")
    assert [(m.model_1, m.model_2) for m in base[:2]] == [("a", "b"), ("c", "b")]
    assert all(isinstance(m, PairMatch) for m in base) and len(base) == 2 * 3 * 2
    assert base[0].reference is None and base[-1].reference == "gpt-4"  # q101 turn 2 is reference-guided


def test_failed_and_missing_answers_are_skipped_and_counted(bench):
    questions, prompts, refs = bench
    qs = [q for q in questions if q.question_id in (81, 82, 83)]
    answers = {
        "ok": {q.question_id: fake_answer("ok", q.question_id) for q in qs},
        "bad": {
            81: fake_answer("bad", 81, turns=("$ERROR$", "x")),
            82: fake_answer("bad", 82, error="HTTP 500"),
            # 83 missing
        },
    }
    matches, skips = build_matches("single", qs, ["ok", "bad"], answers, prompts, refs, "gpt-4")
    assert {m.model for m in matches} == {"ok"} and len(matches) == 6
    by_reason = {s.reason: s.question_ids for s in skips}
    assert by_reason == {"answer failed to generate": (81, 82), "no answer in the answer file": (83,)}
    pairs, skips = build_matches("pairwise-baseline", qs, ["bad"], answers, prompts, refs, "gpt-4", baseline="ok")
    assert pairs == [] and sum(len(s.question_ids) for s in skips) == 3


def test_rendering_keeps_braces_in_answers(bench):
    questions, prompts, refs = bench
    q = next(q for q in questions if q.question_id == 81)
    answers = {"m": {81: fake_answer("m", 81, turns=("use {x} and {}", "{{y}}"))}}
    matches, _ = build_matches("single", [q], ["m"], answers, prompts, refs, "gpt-4")
    assert "use {x} and {}" in matches[0].user_prompt and "{{y}}" in matches[1].user_prompt


def test_layout_names_fastchat_files(tmp_path):
    layout = BenchLayout(tmp_path, "mt_bench")
    assert layout.judgment_file("gpt-4", "single").name == "gpt-4_single.jsonl"
    assert layout.judgment_file("gpt-4", "pairwise-all").name == "gpt-4_pair.jsonl"


# ---------------------------------------------------------------------------------------------------
# cost (pure, offline)


def test_price_table_snapshots_and_overrides():
    from mtbench.core.cost import Price, price_for

    assert price_for("gpt-4") == Price(30.0, 60.0)
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")  # a dated snapshot of a known name
    assert price_for("gpt-4o-2024-05-13") == Price(5.0, 15.0)  # a snapshot with its own price wins
    assert price_for("my-judge") is None
    assert price_for("my-judge", input_price=1, output_price=2) == Price(1, 2)
    assert price_for("gpt-4", output_price=10) == Price(30.0, 10)
    assert Price(30.0, 60.0).cost(1_000_000, 500_000) == 60.0


def test_token_estimate_is_close_to_chars_over_four(bench):
    from mtbench.core.cost import estimate_input_tokens

    _, prompts, _ = bench
    messages = judge_messages(prompts["single-v1"], "x" * 4000)
    chars = sum(len(m["content"]) for m in messages)
    assert estimate_input_tokens(messages) == round(chars / 4) + 2 * 4 + 3


def test_reply_estimate_is_capped_at_max_tokens():
    from mtbench.core.cost import ASSUMED_OUTPUT_TOKENS, output_tokens_per_call

    assert output_tokens_per_call() == output_tokens_per_call(2048) == ASSUMED_OUTPUT_TOKENS
    assert output_tokens_per_call(100) == 100


def test_match_keys_are_the_keys_of_the_records_they_become(bench):
    from mtbench.core.client import ChatResult
    from mtbench.gen_judgment import pair_record, single_record

    questions, prompts, refs = bench
    qs = [q for q in questions if q.question_id in (81, 101)]
    answers = {m: {q.question_id: fake_answer(m, q.question_id) for q in qs} for m in ("a", "b")}
    reply = ChatResult(text="[[A]] [[5]]")
    single, _ = build_matches("single", qs, ["a"], answers, prompts, refs, "gpt-4", judge_model="j")
    assert [single_record(m, reply, 0.0, 10).key for m in single] == [m.key for m in single]
    assert single[0].key == (81, "a", 1, ("j", "single-v1"), 0)
    pairs, _ = build_matches("pairwise-all", qs, ["a", "b"], answers, prompts, refs, "gpt-4", judge_model="j")
    assert [pair_record(m, reply, reply, 0.0, 10).key for m in pairs] == [m.key for m in pairs]


@pytest.mark.parametrize("reason, transport", [
    ("connection failed: Connection refused (gave up after 7 attempts)", True),
    ("timed out after 2s (gave up after 3 attempts)", True),
    ("HTTP 503: down (gave up after 1 attempts)", True),
    ("connection closed by the server before it replied (gave up after 7 attempts)", True),
    ("HTTP 429: slow down (gave up after 7 attempts)", True),
    ("malformed response: not JSON (gave up after 3 attempts)", False),  # the endpoint answered
    ("connection failed: reset", True),  # written by an older version without the suffix
    ("HTTP 502: bad gateway", True),
    ("HTTP 400: context too long", False),
    ("empty reply", False),
    ("unparseable: no [[rating]] in the judge's reply", False),
])
def test_transport_failures_are_told_from_verdict_failures(reason, transport):
    from mtbench.gen_judgment import is_transport_failure

    assert is_transport_failure(reason) is transport
