"""`mtbench agreement`: FastChat's compute_agreement semantics on hand-counted votes, on the partial human/GPT-4
vote join from ../shared, and end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from pathlib import Path

import pytest

from mtbench.agreement import (
    AgreementConfig,
    Vote,
    agreement,
    bucket,
    cohen_kappa,
    compare_with_judge,
    compare_within,
    load_human_votes,
    match_verdict,
    normalize_judge,
    render,
    summarize,
    votes_agree,
)
from mtbench.core.errors import UserError
from mtbench.core.records import PairJudgment, dumps
from tests.cli import mtbench
from tests.conftest import REFERENCE_RUNS

HUMAN_ZIP = REFERENCE_RUNS / "human_judgments_partial" / "human_gpt_comparison.zip"


def pair(qid: int, m1: str, m2: str, g1: str, g2: str, turn: int = 1, judge: str = "gpt-4") -> PairJudgment:
    return PairJudgment(
        question_id=qid, model_1=m1, model_2=m2, g1_winner=g1, g2_winner=g2, judge=(judge, "pair-v2"),
        g1_user_prompt="p1", g1_judgment="j1", g2_user_prompt="p2", g2_judgment="j2", turn=turn,
    )


def write_pairs(path: Path, judgments: list[PairJudgment]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(j) for j in judgments))
    return path


def human(qid: int, a: str, b: str, winner: str, judge, turn: int = 1) -> dict:
    return {"question_id": qid, "model_a": a, "model_b": b, "winner": winner, "judge": judge, "turn": turn,
            "conversation_a": [], "conversation_b": []}


# Judge J, one vote per key (k4 has no human vote; the error match is left out).
JUDGE_J = [
    pair(81, "b", "a", "model_2", "model_2"),  # k1: a wins; stored with the pair swapped
    pair(82, "a", "b", "model_1", "tie"),  # k2: games disagree -> tie (inconsistent)
    pair(81, "a", "b", "model_2", "model_2", turn=2),  # k3: b wins
    pair(83, "a", "b", "model_1", "model_1"),  # k4: a wins
    pair(85, "a", "b", "error", "model_1"),  # failed game: left out, counted
]
HUMANS = [
    human(81, "a", "b", "model_a", "expert_1"),  # agrees with J
    human(81, "b", "a", "model_b", "expert_2"),  # swapped pair: a wins -> agrees
    human(81, "a", "b", "model_b", "expert_3"),  # disagrees
    human(81, "a", "b", "tie", "expert_4"),  # disagrees; dropped without ties
    human(81, "a", "b", "model_a", "author_0"),  # author: left out
    human(82, "a", "b", "tie (inconsistent)", "expert_1"),  # tie = tie: agrees; dropped without ties
    human(82, "b", "a", "model_a", "expert_2"),  # b wins vs J's tie: disagrees; dropped without ties
    human(81, "b", "a", "model_a", "expert_1", turn=2),  # b wins: agrees
    human(81, "a", "b", "model_a", "expert_2", turn=2),  # disagrees
    human(84, "a", "b", "model_a", "expert_1", turn=2),  # no judge vote: unused
]


def counts(report, comparison: str) -> dict[tuple[str, bool], tuple[int, int]]:
    return {(r.turn, r.ties): (r.total, r.agree) for r in report.rows if r.comparison == comparison}


# ---------------------------------------------------------------------------------------------------
# pure pieces


def test_equality_ties_and_flipping():
    assert votes_agree("tie", "tie (inconsistent)")
    assert votes_agree("model_a", "model_a")
    assert not votes_agree("model_a", "model_b")
    assert not votes_agree("tie", "model_a")
    key, winner = Vote(81, "z", "a", "model_a", "human", 2).oriented()
    assert (key, winner) == ((2, 81, "a", "z"), "model_b")
    assert Vote(81, "z", "a", "tie", "human", 1).oriented()[1] == "tie"
    assert Vote(81, "a", "z", "model_a", "human", 1).oriented() == ((1, 81, "a", "z"), "model_a")


def test_match_verdict_is_fastchats_show_rule():
    assert match_verdict(pair(1, "x", "y", "model_1", "model_1")) == "model_a"
    assert match_verdict(pair(1, "x", "y", "model_2", "model_2")) == "model_b"
    assert match_verdict(pair(1, "x", "y", "tie", "tie")) == "tie"
    # g1 is a tie, or the games disagree: a tie either way
    for g1, g2 in [("model_1", "tie"), ("tie", "model_1"), ("model_1", "model_2")]:
        assert "tie" in match_verdict(pair(1, "x", "y", g1, g2))


def test_normalize_judge():
    assert normalize_judge(["gpt-4", "pair-v2"]) == "gpt4-pair"
    assert normalize_judge(["gpt-4", "pair-math-v1-multi-turn"]) == "gpt4-pair"
    assert normalize_judge("expert_12") == "human"
    assert normalize_judge("author_3") == "author"
    assert normalize_judge("gpt4_pair") == "gpt4-pair"
    assert normalize_judge(["llama-judge", "pair-v2"]) == "llama-judge"
    with pytest.raises(ValueError):
        normalize_judge(5)


def test_cohen_kappa():
    assert cohen_kappa([]) is None
    assert cohen_kappa([("model_a", "model_a"), ("model_b", "model_b")]) == pytest.approx(1.0)
    # observed 0.5, chance 0.5
    assert cohen_kappa([("model_a", "model_a"), ("model_b", "model_b"), ("model_a", "model_b"),
                        ("model_b", "model_a")]) == pytest.approx(0.0)
    # one category on both sides: chance agreement is 1, kappa undefined
    assert cohen_kappa([("model_a", "model_a")] * 3) is None
    # tie labels are one category. first side: tie 1, a 2; second: tie 2, a 1. observed 6/9;
    # chance (1*2 + 2*1)/9 = 4/9 -> (6/9 - 4/9) / (5/9) = 0.4
    assert cohen_kappa([("tie", "tie (inconsistent)"), ("model_a", "model_a"), ("model_a", "tie")]) == pytest.approx(0.4)


def test_judge_must_vote_once_per_key():
    votes = bucket([Vote(81, "a", "b", "model_a", "j", 1), Vote(81, "b", "a", "model_a", "j", 1)])
    with pytest.raises(UserError, match="2 votes on question 81, turn 1, a vs b"):
        compare_with_judge(votes, votes, "j")


def test_human_vs_human_pairs_every_two_votes_on_a_key():
    votes = bucket(Vote(81, "a", "b", w, "human", 1) for w in ("model_a", "model_a", "tie", "model_b"))
    found = compare_within(votes)
    assert len(found) == 6
    rows = {(r.turn, r.ties): (r.total, r.agree) for r in summarize("h", found)}
    assert rows[("1", True)] == (6, 1)
    assert rows[("1", False)] == (3, 1)


# ---------------------------------------------------------------------------------------------------
# hand-counted sets through the library


def test_judge_vs_human_hand_counted(tmp_path):
    judge_file = write_pairs(tmp_path / "J_pair.jsonl", JUDGE_J)
    human_file = tmp_path / "human.json"
    human_file.write_text(json.dumps(HUMANS))
    report = agreement(AgreementConfig(judgment_files=(judge_file,), human_files=(human_file,), human_vs_human=True))
    assert counts(report, "J vs human") == {
        ("1", True): (6, 3), ("1", False): (3, 2),
        ("2", True): (2, 1), ("2", False): (2, 1),
        ("all", True): (8, 4), ("all", False): (5, 3),
    }
    assert counts(report, "human vs human") == {
        ("1", True): (7, 1), ("1", False): (3, 1),
        ("2", True): (1, 0), ("2", False): (1, 0),
        ("all", True): (8, 1), ("all", False): (4, 1),
    }
    ratios = {(r.comparison, r.turn, r.ties): r.ratio for r in report.rows}
    assert ratios[("J vs human", "1", True)] == pytest.approx(0.5)
    assert ratios[("J vs human", "1", False)] == pytest.approx(2 / 3)
    assert any("1 matches with a failed game left out" in n for n in report.notes)
    assert any("1 author votes left out" in n for n in report.notes)


def test_judge_vs_judge_hand_counted(tmp_path):
    a = write_pairs(tmp_path / "a" / "gpt-4_pair.jsonl", JUDGE_J)
    b = write_pairs(tmp_path / "b" / "llama-judge_pair.jsonl", [
        pair(81, "a", "b", "tie", "tie", judge="llama-judge"),  # replaced by the next line
        pair(81, "a", "b", "model_1", "model_1", judge="llama-judge"),  # k1: a wins: agrees
        pair(82, "b", "a", "tie", "tie", judge="llama-judge"),  # k2: tie vs inconsistent tie: agrees
        pair(81, "b", "a", "model_2", "model_2", turn=2, judge="llama-judge"),  # k3: a wins vs b: disagrees
        pair(83, "a", "b", "model_2", "error", judge="llama-judge"),  # k4 failed here: not compared
    ])
    report = agreement(AgreementConfig(judgment_files=(a, b)))
    assert counts(report, "gpt-4 vs llama-judge") == {
        ("1", True): (2, 2), ("1", False): (1, 1),
        ("2", True): (1, 0), ("2", False): (1, 0),
        ("all", True): (3, 2), ("all", False): (2, 1),
    }
    assert any("llama-judge_pair.jsonl: 1 matches judged more than once" in n for n in report.notes)
    assert any("llama-judge_pair.jsonl: 1 matches with a failed game" in n for n in report.notes)


def test_vote_files_jsonl_and_errors(tmp_path):
    good = tmp_path / "votes.jsonl"
    good.write_text("".join(json.dumps(h) + "\n" for h in HUMANS))
    assert len(load_human_votes(good).votes) == len(HUMANS)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([HUMANS[0], {**HUMANS[1], "winner": "model_c"}]))
    with pytest.raises(UserError, match=r"bad.json: item 2: field 'winner' must be model_a, model_b or a tie"):
        load_human_votes(bad)
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text(json.dumps(HUMANS[0]) + "\n" + json.dumps({**HUMANS[0], "question_id": "81"}) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: field 'question_id' must be an integer"):
        load_human_votes(bad_line)
    with pytest.raises(UserError, match="nothing to compare"):
        agreement(AgreementConfig(judgment_files=(write_pairs(tmp_path / "only_pair.jsonl", JUDGE_J),)))


def test_render_formats(tmp_path):
    report = agreement(AgreementConfig(judgment_files=(write_pairs(tmp_path / "x_pair.jsonl", JUDGE_J),
                                        write_pairs(tmp_path / "y_pair.jsonl", JUDGE_J))))
    table = render(report, "table")
    assert "x vs y" in table and "without tie" in table
    md = render(report, "markdown").splitlines()
    assert md[0].startswith("| comparison") and set(md[1]) <= set("|-:")
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert len(rows) == 6 and all(float(r["ratio"]) == 1.0 for r in rows)
    data = json.loads(render(report, "json"))
    assert data["rows"][0] == {"comparison": "x vs y", "turn": "1", "ties": True, "total": 3, "agree": 3,
                               "ratio": 1.0, "kappa": 1.0}


# ---------------------------------------------------------------------------------------------------
# the partial human / GPT-4 join from ../shared (a subset: mechanics only, not the paper's numbers)


@pytest.fixture(scope="module")
def human_gpt_join():
    if not HUMAN_ZIP.is_file():
        pytest.fail(f"{HUMAN_ZIP} is missing")
    with zipfile.ZipFile(HUMAN_ZIP) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".csv")]
        text = z.read(name).decode("utf-8")
    csv.field_size_limit(1 << 30)
    return list(csv.DictReader(io.StringIO(text)))


def _distinct(rows, fields):
    seen = {}
    for r in rows:
        seen.setdefault(tuple(r[f] for f in fields), r)
    return list(seen.values())


def test_partial_human_join(tmp_path, human_gpt_join):
    rows = human_gpt_join
    # _x columns are the human row, _y the gpt4_pair row; the join ignored the turn, so votes repeat.
    humans = _distinct(rows, ("question_id", "model_a", "model_b", "winner_x", "judge_x", "turn_x"))
    gpt4 = _distinct(rows, ("question_id", "model_a", "model_b", "winner_y", "turn_y"))
    assert len(humans) == 1751 and len(gpt4) == 1240  # as SOURCE.md says

    rng = random.Random(7)
    swap = {"model_a": "model_b", "model_b": "model_a"}

    def vote(r, winner, judge, turn, flip):
        a, b = (r["model_b"], r["model_a"]) if flip else (r["model_a"], r["model_b"])
        return {"question_id": int(r["question_id"]), "model_a": a, "model_b": b,
                "winner": swap.get(winner, winner) if flip else winner, "judge": judge, "turn": int(turn)}

    # Half the votes are written with the pair swapped: the result must not change.
    for flip_some in (False, True):
        human_votes = [vote(r, r["winner_x"], r["judge_x"], r["turn_x"], flip_some and rng.random() < 0.5)
                       for r in humans]
        gpt_votes = [vote(r, r["winner_y"], ["gpt-4", "pair-v2"], r["turn_y"], flip_some and rng.random() < 0.5)
                     for r in gpt4]
        (tmp_path / "human.json").write_text(json.dumps(human_votes))
        (tmp_path / "gpt4.jsonl").write_text("".join(json.dumps(v) + "\n" for v in gpt_votes))
        report = agreement(AgreementConfig(human_files=(tmp_path / "human.json", tmp_path / "gpt4.jsonl"),
                                           human_vs_human=True))
        got = {(r.comparison, r.turn, r.ties): (r.total, r.agree) for r in report.rows}
        if not flip_some:
            unflipped = got
        else:
            assert got == unflipped

    # An independent recomputation from the winner-by-name columns (winner_h / winner_g; empty = tie).
    gpt_by_key = {(r["turn_y"], r["question_id"], frozenset((r["model_a"], r["model_b"]))): r["winner_g"] or "tie"
                  for r in gpt4}
    experts = [r for r in humans if r["judge_x"].startswith("expert")]
    for turn in ("1", "2"):
        pairs = [((r["winner_h"] or "tie"), gpt_by_key[(turn, r["question_id"], frozenset((r["model_a"], r["model_b"])))])
                 for r in experts if r["turn_x"] == turn]
        assert got[("gpt4-pair vs human", turn, True)] == (len(pairs), sum(h == g for h, g in pairs))
        decisive = [(h, g) for h, g in pairs if "tie" not in (h, g)]
        assert got[("gpt4-pair vs human", turn, False)] == (len(decisive), sum(h == g for h, g in decisive))

    for comparison in ("gpt4-pair vs human", "human vs human"):
        for ties in (True, False):
            per_turn = [got[(comparison, t, ties)] for t in ("1", "2")]
            assert got[(comparison, "all", ties)] == tuple(map(sum, zip(*per_turn, strict=True)))
        for turn in ("1", "2", "all"):
            with_t, without_t = got[(comparison, turn, True)], got[(comparison, turn, False)]
            assert 0 < without_t[0] <= with_t[0] and without_t[1] <= with_t[1]
    assert got[("gpt4-pair vs human", "all", True)][0] == len(experts)  # every expert vote has a GPT-4 vote here
    for r in report.rows:
        assert 0.0 <= r.ratio <= 1.0


# ---------------------------------------------------------------------------------------------------
# CLI


def test_cli_end_to_end(tmp_path, data_dir):
    judgments = data_dir / "mt_bench" / "model_judgment"
    write_pairs(judgments / "gpt-4_pair.jsonl", JUDGE_J)
    write_pairs(judgments / "llama-judge_pair.jsonl", [
        pair(81, "a", "b", "model_1", "model_1", judge="llama-judge"),
        pair(82, "a", "b", "model_2", "model_2", judge="llama-judge"),
    ])
    human_file = tmp_path / "human.jsonl"
    human_file.write_text("".join(json.dumps(h) + "\n" for h in HUMANS))

    done = mtbench("agreement", "--data-dir", str(data_dir), "--judge-models", "gpt-4", "llama-judge", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {(r["comparison"], r["turn"], r["ties"]): (r["total"], r["agree"]) for r in json.loads(done.stdout)["rows"]}
    assert rows[("gpt-4 vs llama-judge", "1", True)] == (2, 1)
    assert rows[("gpt-4 vs llama-judge", "1", False)] == (1, 1)

    done = mtbench("agreement", "--judgments", str(judgments / "gpt-4_pair.jsonl"), "--human", str(human_file), "--human-vs-human")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["comparison", "turn", "setup", "total", "agree", "ratio", "kappa"]
    assert "gpt-4 vs human  1     with tie         6      3  0.500" in done.stdout
    assert "human vs human" in done.stdout
    assert "1 author votes left out" in done.stderr

    broken = tmp_path / "broken_pair.jsonl"
    broken.write_text(dumps(JUDGE_J[0]) + '{"question_id": 81}\n')
    done = mtbench("agreement", "--judgments", str(broken), str(judgments / "gpt-4_pair.jsonl"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mtbench agreement: error: {broken}:2: missing field 'g1_winner'; run `mtbench repair {broken}` to set the bad line aside"
    ]
    done = mtbench("agreement", "--human", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "nope.json: no such file" in done.stderr and "Traceback" not in done.stderr


def test_judges_by_name_use_the_judge_file_mapping(tmp_path):
    from mtbench.agreement import judge_label
    from mtbench.core.bench import BenchLayout

    layout = BenchLayout(data_dir=tmp_path)
    served = "/path/to/smol-hf"
    mine = write_pairs(layout.pair_judgment_file(served), [pair(81, "a", "b", "model_1", "model_1", judge=served)])
    other = write_pairs(layout.pair_judgment_file("gpt-4"), [pair(81, "a", "b", "model_2", "model_2")])
    assert mine.name == "__path__to__smol-hf_pair.jsonl"
    # By name: the label is the name given. By file: the recorded judge, when the file is named after it.
    by_name = agreement(AgreementConfig(judge_models=(served, "gpt-4"), layout=layout))
    by_file = agreement(AgreementConfig(judgment_files=(mine, other)))
    assert counts(by_name, f"{served} vs gpt-4")[("1", True)] == (1, 0)
    assert counts(by_file, f"{served} vs gpt-4") == counts(by_name, f"{served} vs gpt-4")
    assert judge_label(tmp_path / "J_pair.jsonl", ["gpt-4"]) == "J"  # a file named otherwise keeps its name
    with pytest.raises(UserError, match=r"judge_models: no pairwise judgments for /other/judge at .*"
                                         r"__other__judge_pair.jsonl; create them with `mtbench judge"):
        agreement(AgreementConfig(judge_models=(served, "/other/judge"), layout=layout))
    with pytest.raises(UserError, match="given twice"):
        agreement(AgreementConfig(judgment_files=(mine,), judge_models=(served,), layout=layout))
