"""`mtbench bias` and `show --control`: scripted judgment files whose bias is set, hand-computed small cases,
the real third-party runs, and the user errors. Everything runs the real CLI in process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mtbench.cli import main
from mtbench.core.record_files import load_pair_judgments
from mtbench.show_result import pairwise_table

from .conftest import REFERENCE_RUNS

RUNS = REFERENCE_RUNS / "third_party_runs"
FILLER = " This is filler text that says nothing new."


# ---- scripted benches -------------------------------------------------------------------------------------

def write_bench(root: Path, answers: dict[str, dict[int, list[str]]], single=None, pair=None, judge="gpt-4") -> Path:
    """A data dir with mt_bench/model_answer/*.jsonl and the judgment file(s) given as record dicts."""
    bench = root / "mt_bench"
    (bench / "model_answer").mkdir(parents=True, exist_ok=True)
    (bench / "model_judgment").mkdir(exist_ok=True)
    for model, by_q in answers.items():
        with open(bench / "model_answer" / f"{model}.jsonl", "w") as f:
            for qid, turns in sorted(by_q.items()):
                f.write(json.dumps({"question_id": qid, "model_id": model, "choices": [{"index": 0, "turns": turns}]}) + "\n")
    for kind, rows in (("single", single), ("pair", pair)):
        if rows is not None:
            with open(bench / "model_judgment" / f"{judge}_{kind}.jsonl", "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    return root


def single_row(qid: int, model: str, score: float, turn: int = 1, judge: str = "gpt-4") -> dict:
    return {"question_id": qid, "model": model, "judge": [judge, "single-v1"], "user_prompt": "", "judgment": "",
            "score": score, "turn": turn, "tstamp": 0.0}


def pair_row(qid: int, m1: str, m2: str, g1: str, g2: str, turn: int = 1) -> dict:
    return {"question_id": qid, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
            "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "", "g1_judgment": "", "g2_user_prompt": "",
            "g2_judgment": "", "turn": turn, "tstamp": 0.0}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def bias_json(capsys, data: Path, *args: str) -> dict:
    code, out, err = cli(capsys, "bias", "--data-dir", str(data), "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def within(stat: dict, truth: float) -> bool:
    return stat["ci"][0] <= truth <= stat["ci"][1]


def text(n: int) -> str:
    return "x" * n


# ---- hand-computed small cases ----------------------------------------------------------------------------

def test_pairwise_rates_by_hand(tmp_path, capsys):
    # a's answers are 100 characters; b's 200 (q1, and bold: more markdown), 105 (q2, within 10%), 50 (q3).
    answers = {"a": {1: [text(100)], 2: [text(100)], 3: [text(100)]},
               "b": {1: ["**bold**" + text(192)], 2: [text(105)], 3: [text(50)]}}
    pairs = [pair_row(1, "a", "b", "model_2", "model_2"),  # g1: second wins, g2: first (b) wins; consistent
             pair_row(2, "a", "b", "model_1", "model_2"),  # both games: the first-shown wins; a flip
             pair_row(3, "a", "b", "tie", "model_2")]  # g1 tie; g2 first (b) wins; a flip
    out = bias_json(capsys, write_bench(tmp_path, answers, pair=pairs), "--mode", "pairwise-all", "--bootstrap", "0")
    assert out["first_position_win_rate"] == {"value": 0.8, "ci": None, "n": 5}
    assert out["first_position_win_rate_game_1"]["value"] == 0.5
    assert out["first_position_win_rate_game_2"]["value"] == 1.0
    assert out["swap_flip_rate"]["value"] == pytest.approx(2 / 3) and out["swap_flip_rate"]["n"] == 3
    assert out["tie_rate"]["value"] == pytest.approx(1 / 6) and out["tie_rate"]["n"] == 6
    # decided games with lengths >10% apart: q1's two (longer b wins both), q3's game 2 (shorter b wins)
    assert out["longer_wins_rate"]["value"] == pytest.approx(2 / 3) and out["longer_wins_rate"]["n"] == 3
    assert out["more_markdown_wins_rate"] == {"value": 1.0, "ci": None, "n": 2}
    assert out["length_unit"] == "characters"
    assert set(out["models"]) == {"a", "b"} and out["models"]["a"]["tie_rate"]["value"] == pytest.approx(1 / 6)


@pytest.mark.slow
def test_single_statistics_by_hand(tmp_path, capsys):
    # Lengths 2^k - 1 make log2(length + 1) = k; score = model term (m1 0, m2 1.5) + question term (q1 0,
    # q2 0.5) + 0.5 k exactly, k = 1, 2, 3, 5 (k = 4 would be a sum of the terms: no slope to fit). In length
    # order the scores are 0.5, 2.5, 2, 4.5: Spearman's d = [0, 1, -1, 0], 1 - 6 * 2 / (4 * 15) = 0.8.
    answers = {"m1": {1: [text(1)], 2: [text(7)]}, "m2": {1: [text(3)], 2: [text(31)]}}
    single = [single_row(1, "m1", 0.5), single_row(1, "m2", 2.5), single_row(2, "m1", 2), single_row(2, "m2", 4.5)]
    out = bias_json(capsys, write_bench(tmp_path, answers, single=single), "--bootstrap", "0")
    assert out["score_length_spearman"]["value"] == pytest.approx(0.8)
    # within a question the longer answer always scores higher: centred values all agree in order
    assert out["score_length_spearman_within_question"]["value"] == pytest.approx(1.0)
    # OLS score ~ model + question + log2 length fits exactly: 0.5 points per doubling
    assert out["points_per_length_doubling"]["value"] == pytest.approx(0.5)
    quartiles = out["score_by_length_quartile"]
    assert [q["mean_score"]["value"] for q in quartiles] == [0.5, 2.5, 2, 4.5]
    assert [q["length_range"] for q in quartiles] == [[1, 1], [3, 3], [7, 7], [31, 31]]


def test_self_preference_by_hand(tmp_path, capsys):
    answers = {m: {q: [text(50)] for q in (1, 2)} for m in ("own", "other")}
    mine = [single_row(q, "own", 8) for q in (1, 2)] + [single_row(q, "other", 6) for q in (1, 2)]
    theirs = [single_row(q, m, 6, judge="ref") for q in (1, 2) for m in ("own", "other")]
    data = write_bench(tmp_path, answers, single=mine)
    write_bench(tmp_path, answers, single=theirs, judge="ref")
    out = bias_json(capsys, data, "--bootstrap", "50", "--self", "own", "--reference-judge", "ref")
    assert out["self_preference"]["value"] == pytest.approx(2.0)  # (8 - 6) - (6 - 6)
    assert out["models"]["own"]["self_preference"]["value"] == pytest.approx(2.0)
    assert out["models"]["other"]["self_preference"]["value"] == pytest.approx(0.0)


# ---- scripted judges with a set bias ----------------------------------------------------------------------

def lengths_bench(rng: np.random.Generator, models: list[str], n_q: int = 80) -> dict[str, dict[int, list[str]]]:
    return {m: {q: [text(int(rng.integers(100, 3000)))] for q in range(1, n_q + 1)} for m in models}


def all_pairs(models: list[str], n_q: int):
    for q in range(1, n_q + 1):
        for i, m1 in enumerate(models):
            for m2 in models[i + 1:]:
                yield q, m1, m2


def test_judge_that_always_says_a(tmp_path, capsys):
    models = ["m1", "m2", "m3"]
    answers = lengths_bench(np.random.default_rng(1), models, 20)
    # "A" is model_1 in game 1 and model_2 in game 2 (the positions swap)
    pairs = [pair_row(q, a, b, "model_1", "model_2") for q, a, b in all_pairs(models, 20)]
    out = bias_json(capsys, write_bench(tmp_path, answers, pair=pairs), "--mode", "pairwise-all", "--bootstrap", "200")
    for key in ("first_position_win_rate", "first_position_win_rate_game_1", "first_position_win_rate_game_2",
                "swap_flip_rate"):
        assert out[key]["value"] == 1.0 and out[key]["ci"] == [1.0, 1.0], key
    assert out["tie_rate"]["value"] == 0.0
    assert "excludes 50%: a lean" in out["readings"]["first_position_win_rate"]


@pytest.mark.parametrize("p", [0.8, 0.5])
def test_judge_where_the_longer_answer_wins_with_probability_p(tmp_path, capsys, p):
    rng = np.random.default_rng(7)
    models = ["m1", "m2", "m3"]
    answers = lengths_bench(rng, models)

    def game(q: int, a: str, b: str, first: str) -> str:
        la, lb = len(answers[a][q][0]), len(answers[b][q][0])
        longer = "model_1" if la >= lb else "model_2"
        shorter = "model_2" if longer == "model_1" else "model_1"
        return longer if rng.random() < p else shorter

    pairs = [pair_row(q, a, b, game(q, a, b, a), game(q, a, b, b)) for q, a, b in all_pairs(models, 80)]
    out = bias_json(capsys, write_bench(tmp_path, answers, pair=pairs), "--mode", "pairwise-all", "--bootstrap", "300")
    assert within(out["longer_wins_rate"], p), out["longer_wins_rate"]
    assert within(out["first_position_win_rate"], 0.5)  # no position bias was set
    assert out["longer_wins_rate"]["ci"][1] - out["longer_wins_rate"]["ci"][0] < 0.15


@pytest.mark.slow
def test_single_score_a_plus_b_log2_length(tmp_path, capsys):
    rng = np.random.default_rng(3)
    models = ["m1", "m2", "m3"]
    answers = lengths_bench(rng, models)
    b = 0.75
    single = [single_row(q, m, 1.0 + b * math.log2(len(answers[m][q][0]) + 1) + rng.normal(0, 0.5))
              for m in models for q in range(1, 81)]
    out = bias_json(capsys, write_bench(tmp_path, answers, single=single), "--bootstrap", "100")
    assert within(out["points_per_length_doubling"], b), out["points_per_length_doubling"]
    assert out["score_length_spearman"]["ci"][0] > 0.3
    assert out["score_length_spearman_within_question"]["ci"][0] > 0.3
    means = [q["mean_score"]["value"] for q in out["score_by_length_quartile"]]
    assert means == sorted(means)
    # the same run again: the same numbers (seeded)
    assert bias_json(capsys, tmp_path, "--bootstrap", "100") == out


# ---- controls: the verbose twin ---------------------------------------------------------------------------

def twin_bench(rng: np.random.Generator, n_q: int = 80) -> tuple[dict, np.ndarray]:
    """orig's answers, and twin's: the same padded with 0 to 3 times their length of filler."""
    orig = {q: [text(int(rng.integers(200, 1500)))] for q in range(1, n_q + 1)}
    pad = rng.uniform(0, 3, n_q)
    twin = {q: [orig[q][0] + (FILLER * 200)[: int(pad[q - 1] * len(orig[q][0]))]] for q in orig}
    return {"orig": orig, "twin": twin}, pad


def test_single_control_gives_the_verbose_twin_its_originals_score(tmp_path, capsys):
    rng = np.random.default_rng(11)
    answers, _ = twin_bench(rng)
    quality = {q: rng.normal(0, 1) for q in range(1, 81)}  # question difficulty, the same for both
    single = [single_row(q, m, 3 + quality[q] + 0.8 * math.log2(len(answers[m][q][0]) + 1))
              for m in answers for q in range(1, 81)]
    data = write_bench(tmp_path, answers, single=single)
    code, out, err = cli(capsys, "show", "--data-dir", str(data), "--control", "length", "--bootstrap", "200",
                         "--format", "json")
    assert code == 0, err
    rows = {r["model"]: r for r in json.loads(out)["models"]}
    assert rows["twin"]["overall"] - rows["orig"]["overall"] > 0.5  # raw: the padding pays
    assert rows["twin"]["controlled_score"] == pytest.approx(rows["orig"]["controlled_score"], abs=0.05)
    for r in rows.values():
        low, high = r["controlled_ci"]
        assert low <= r["controlled_score"] <= high
    code, table, _ = cli(capsys, "show", "--data-dir", str(data), "--control", "length", "--bootstrap", "50")
    assert "controlled" in table and "points per doubling" in table


@pytest.mark.slow
def test_length_controlled_win_rate_of_the_verbose_twin_is_near_half(tmp_path, capsys):
    rng = np.random.default_rng(5)
    answers, _ = twin_bench(rng)
    # A third model of the same quality as orig with lengths of its own, so the fit has two models.
    answers["peer"] = {q: [text(int(rng.integers(200, 1500)))] for q in range(1, 81)}
    diffs = {(m, q): len(answers[m][q][0]) - len(answers["orig"][q][0]) for m in ("twin", "peer") for q in range(1, 81)}
    sd = float(np.std(list(diffs.values())))
    pairs = []
    for (m, q), d in diffs.items():  # the judge: P(m beats orig) = sigmoid(2.5 * tanh(diff / sd)), both games
        win = rng.random() < 1 / (1 + math.exp(-2.5 * math.tanh(d / sd)))
        pairs.append(pair_row(q, m, "orig", *(("model_1", "model_1") if win else ("model_2", "model_2"))))
    data = write_bench(tmp_path, answers, pair=pairs)
    code, out, err = cli(capsys, "show", "--data-dir", str(data), "--mode", "pairwise-baseline", "--baseline-model",
                         "orig", "--control", "length", "--bootstrap", "200", "--format", "json")
    assert code == 0, err
    twin = next(r for r in json.loads(out)["models"] if r["model"] == "twin")
    assert twin["win_rate_adjusted"] > 0.7  # raw: the padded answer wins most matches
    assert abs(twin["controlled_win_rate"] - 0.5) < 0.1
    assert twin["controlled_ci"][0] <= 0.5 <= twin["controlled_ci"][1]


def test_style_controlled_bradley_terry_beside_the_raw(tmp_path, capsys):
    rng = np.random.default_rng(9)
    answers, _ = twin_bench(rng, 60)
    pairs = []
    for q in range(1, 61):  # the longer (the twin, unless unpadded) wins both games: pure length preference
        longer = len(answers["twin"][q][0]) > len(answers["orig"][q][0]) * 1.1
        pairs.append(pair_row(q, "orig", "twin", *(("model_2", "model_2") if longer else ("tie", "tie"))))
    data = write_bench(tmp_path, answers, pair=pairs)
    code, out, err = cli(capsys, "show", "--data-dir", str(data), "--mode", "pairwise-all", "--control", "style",
                         "--bootstrap", "100", "--format", "json")
    assert code == 0, err
    rows = {r["model"]: r for r in json.loads(out)["models"]}
    assert rows["twin"]["bt_win_rate"] > 0.8
    assert rows["twin"]["controlled_win_rate"] < rows["twin"]["bt_win_rate"] - 0.2
    assert set(rows["twin"]) >= {"controlled_win_rate", "controlled_ci"}


# ---- real judgments ---------------------------------------------------------------------------------------

def test_real_pair_file_flip_rate_is_one_minus_shows_consistency(capsys):
    out = bias_json(capsys, RUNS, "--bench-name", "Stefanstud_FastChat", "--mode", "pairwise-all", "--bootstrap", "100")
    table = pairwise_table(load_pair_judgments(RUNS / "Stefanstud_FastChat" / "model_judgment" / "gpt-4_pair.jsonl"))
    assert out["swap_flip_rate"]["value"] == pytest.approx(1 - table.consistency)
    assert out["swap_flip_rate"]["n"] == table.matches == 73
    assert 0 < out["longer_wins_rate"]["value"] < 1 and out["longer_wins_rate"]["n"] > 50


@pytest.mark.slow
def test_every_format_on_a_real_single_run(capsys):
    args = ["bias", "--data-dir", str(RUNS), "--bench-name", "muhan421_fastchat-eval", "--bootstrap", "20"]
    code, table, _ = cli(capsys, *args)
    assert code == 0 and "score_length_spearman_within_question" in table and "length (characters)" in table
    code, markdown, _ = cli(capsys, *args, "--format", "markdown")
    assert code == 0 and markdown.startswith("## Judge bias (single-answer grading; judge gpt-4;")
    code, csv_text, _ = cli(capsys, *args, "--format", "csv")
    lines = csv_text.splitlines()
    assert lines[0] == "scope,statistic,value,ci_low,ci_high,n"
    assert len(lines) == 1 + 3 * 3  # all + two models, three statistics each
    out = bias_json(capsys, RUNS, "--bench-name", "muhan421_fastchat-eval", "--bootstrap", "20")
    assert out["score_length_spearman"]["n"] == 320 and len(out["score_by_length_quartile"]) == 4
    assert set(out["models"]) == {"claude-3-5-sonnet-20240620", "claude-3-opus-20240229"}


# ---- user errors: one line, exit 2 ------------------------------------------------------------------------

def one_line_error(capsys, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, err)
    return err


def test_bad_input(tmp_path, capsys):
    answers = {m: {q: [text(40 * q)] for q in (1, 2, 3)} for m in ("a", "b")}
    ties = [pair_row(q, "a", "b", "tie", "tie") for q in (1, 2, 3)]
    data = write_bench(tmp_path, answers, pair=ties, single=[single_row(q, "a", q) for q in (1, 2, 3)])
    d = ["--data-dir", str(data)]
    assert "no decided games" in one_line_error(capsys, "bias", *d, "--mode", "pairwise-all")
    assert "--self: no judgments for nobody" in one_line_error(
        capsys, "bias", *d, "--self", "nobody", "--reference-judge", "gpt-4")
    assert "--reference-judge" in one_line_error(capsys, "bias", *d, "--self", "a")
    assert "at least two models" in one_line_error(capsys, "show", *d, "--control", "length")
    (data / "mt_bench" / "model_answer" / "b.jsonl").unlink()
    assert "no answer file at" in one_line_error(capsys, "bias", *d, "--mode", "pairwise-all")


@pytest.mark.slow
def test_report_and_browse_show_the_same_controlled_numbers_as_show(tmp_path, capsys):
    from mtbench.browse import leaderboard
    from mtbench.core.bench import BenchLayout
    from mtbench.webview.bench_view import load_bench_view

    rng = np.random.default_rng(11)
    answers, _ = twin_bench(rng, n_q=30)
    single = [single_row(q, m, 3 + 0.8 * math.log2(len(answers[m][q][0]) + 1)) for m in answers for q in range(1, 31)]
    data = write_bench(tmp_path, answers, single=single)
    with open(data / "mt_bench" / "question.jsonl", "w") as f:  # the report's drill-down reads the questions
        f.writelines(json.dumps({"question_id": q, "category": "writing", "turns": [f"question {q}"]}) + "\n"
                     for q in range(1, 31))
    code, out, err = cli(capsys, "show", "--data-dir", str(data), "--control", "length", "--bootstrap", "50",
                         "--format", "json")
    assert code == 0, err
    shown = {r["model"]: r for r in json.loads(out)["models"]}
    html = tmp_path / "r.html"
    code, _, err = cli(capsys, "report", "--data-dir", str(data), "--control", "length", "--bootstrap", "50",
                       "--out", str(html))
    assert code == 0, err
    page = html.read_text()
    assert "controlled" in page
    for row in shown.values():
        assert f"{row['controlled_score']:.2f}" in page
    layout = BenchLayout(data_dir=data)
    board = leaderboard(load_bench_view(layout, "gpt-4"), "gpt-4", "single", None, 50, 0, "length")
    assert {r["model"]: r["controlled_score"] for r in board["models"]} == pytest.approx(
        {m: r["controlled_score"] for m, r in shown.items()})
    plain = leaderboard(load_bench_view(layout, "gpt-4"), "gpt-4", "single", None, 50, 0)
    assert "controlled_score" not in plain["models"][0]
