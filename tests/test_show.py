"""`mtbench show`: FastChat parity on real third-party runs, known values on synthetic files, the radar chart,
and the CLI end to end (every mode and format, and the user errors)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from mtbench.bench import CATEGORIES
from mtbench.records import load_pair_judgments, load_single_judgments
from mtbench.show_result import (
    bootstrap_mean_ci,
    mt_bench_categories,
    paired_comparison,
    pairwise_table,
    radar_figure,
    single_tables,
)

from .conftest import REFERENCE_RUNS

RUNS = REFERENCE_RUNS / "third_party_runs"
MUHAN_SINGLE = RUNS / "muhan421_fastchat-eval" / "model_judgment" / "gpt-4_single.jsonl"
STEFAN_SINGLE = RUNS / "Stefanstud_FastChat" / "model_judgment" / "gpt-4_single.jsonl"
STEFAN_PAIR = RUNS / "Stefanstud_FastChat" / "model_judgment" / "gpt-4_pair.jsonl"
SONNET, OPUS = "claude-3-5-sonnet-20240620", "claude-3-opus-20240229"
QIDS = range(81, 161)


def raw_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------
# FastChat parity on real judgments


def fastchat_single(rows: list[dict]) -> dict[str, tuple[float, float, float]]:
    """FastChat show_result's single-mode arithmetic, by hand: drop score -1, mean per turn, pooled mean."""
    by = defaultdict(list)
    for r in rows:
        if r["score"] != -1:
            by[(r["model"], r["turn"])].append(r["score"])
            by[(r["model"], "all")].append(r["score"])
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {m: (mean(by[(m, 1)]), mean(by[(m, 2)]), mean(by[(m, "all")])) for m in {r["model"] for r in rows}}


@pytest.mark.parametrize("path", [MUHAN_SINGLE, STEFAN_SINGLE], ids=["muhan421", "Stefanstud"])
def test_single_scores_equal_fastchat_arithmetic(path):
    expected = fastchat_single(raw_lines(path))
    tables = single_tables(load_single_judgments(path), n_bootstrap=0)
    assert set(tables.scores.index) == set(expected)
    for model, (t1, t2, avg) in expected.items():
        row = tables.scores.loc[model]
        assert row.first_turn == pytest.approx(t1, abs=1e-12)
        assert row.second_turn == pytest.approx(t2, abs=1e-12)
        assert row.overall == pytest.approx(avg, abs=1e-12)
        assert row.n_failed == 0 and row.n_valid == 160
    assert tables.duplicates_dropped == 0


def test_single_scores_match_published_run_numbers():
    scores = single_tables(load_single_judgments(MUHAN_SINGLE), n_bootstrap=0).scores
    assert list(scores.index) == [SONNET, OPUS]  # sorted by overall, as FastChat
    assert scores.loc[SONNET, ["first_turn", "second_turn", "overall"]].tolist() == pytest.approx(
        [9.2375, 9.1750, 9.2063], abs=1e-4
    )
    assert scores.loc[OPUS, ["first_turn", "second_turn", "overall"]].tolist() == pytest.approx(
        [9.04375, 8.30625, 8.675], abs=1e-9
    )


def fastchat_pair_counts(rows: list[dict], baseline: str | None) -> dict[str, list[int]]:
    """FastChat's pairwise rule by hand: drop error games; tie if g1 is tie or games disagree."""
    counts = defaultdict(lambda: [0, 0, 0])  # win, loss, tie
    for r in rows:
        if "error" in (r["g1_winner"], r["g2_winner"]):
            continue
        if baseline and baseline not in (r["model_1"], r["model_2"]):
            continue
        m1, m2 = r["model_1"], r["model_2"]
        if r["g1_winner"] == "tie" or r["g1_winner"] != r["g2_winner"]:
            counts[m1][2] += 1
            counts[m2][2] += 1
        else:
            winner, loser = (m1, m2) if r["g1_winner"] == "model_1" else (m2, m1)
            counts[winner][0] += 1
            counts[loser][1] += 1
    counts.pop(baseline, None)
    return dict(counts)


@pytest.mark.parametrize("baseline", [None, "phi-3"], ids=["pairwise-all", "pairwise-baseline"])
def test_pair_counts_equal_fastchat_rule(baseline):
    rows = raw_lines(STEFAN_PAIR)
    expected = fastchat_pair_counts(rows, baseline)
    result = pairwise_table(load_pair_judgments(STEFAN_PAIR), baseline=baseline, n_bootstrap=0)
    assert set(result.table.index) == set(expected)
    for model, (win, loss, tie) in expected.items():
        row = result.table.loc[model]
        assert [row.win, row.loss, row.tie] == [win, loss, tie]
        assert row.win_rate == pytest.approx(win / (win + loss + tie))
        assert row.loss_rate == pytest.approx(loss / (win + loss + tie))
        assert row.win_rate_adjusted == pytest.approx((win + 0.5 * tie) / (win + loss + tie))
        assert row.n_error == 2
    # The published-from-data numbers of this file (counted once by hand from its 75 lines).
    assert result.table.loc["phi-3-dpo", ["win", "loss", "tie"]].tolist() == [20, 18, 35]
    assert result.errors == 2 and result.matches == 73
    agree = sum(r["g1_winner"] == r["g2_winner"] for r in rows if "error" not in (r["g1_winner"], r["g2_winner"]))
    assert result.consistency == pytest.approx(agree / 73) and agree == 46


# ---------------------------------------------------------------------------------------------------
# synthetic single judgments with known values


def single_row(qid, model, turn, score, **extra):
    return {
        "question_id": qid, "model": model, "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
        "user_prompt": "p", "judgment": f"Rating: [[{score}]]", "score": score, "turn": turn, "tstamp": 0.0, **extra,
    }


def category_index(qid: int) -> int:
    return (qid - 81) // 10


def synthetic_single_rows() -> list[dict]:
    """alpha: 8 on turn 1, 6 on turn 2. beta: category k scores k+1. gamma: alpha with 40 failed turn-2
    judgments (20 FastChat -1, 20 ours: null score + error). noisy: alpha +-1 by question parity.
    Plus a stale alpha record superseded by a later one, and an exact beta duplicate."""
    rows = [single_row(81, "alpha", 1, 1)]  # stale: the rerun below replaces it
    for q in QIDS:
        for turn, score in ((1, 8), (2, 6)):
            rows.append(single_row(q, "alpha", turn, score))
            rows.append(single_row(q, "beta", turn, category_index(q) + 1))
            rows.append(single_row(q, "noisy", turn, score + (1 if q % 2 else -1)))
            if turn == 2 and q <= 100:
                rows.append(single_row(q, "gamma", turn, -1, judgment="no rating here"))
            elif turn == 2 and q <= 120:
                rows.append(single_row(q, "gamma", turn, None, error="api_error", judgment=""))
            else:
                rows.append(single_row(q, "gamma", turn, score))
    rows.append(single_row(90, "beta", 2, 1))  # exact repeat of an earlier line
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def synthetic_single(tmp_path):
    return load_single_judgments(write_jsonl(tmp_path / "s.jsonl", synthetic_single_rows()))


def test_synthetic_single_tables(synthetic_single):
    t = single_tables(synthetic_single, categories=mt_bench_categories(QIDS), n_bootstrap=500, seed=1)
    s = t.scores
    assert s.loc["alpha", ["first_turn", "second_turn", "overall"]].tolist() == [8, 6, 7]
    assert s.loc["beta", ["first_turn", "second_turn", "overall"]].tolist() == [4.5, 4.5, 4.5]
    assert s.loc["gamma", ["first_turn", "second_turn"]].tolist() == [8, 6]
    assert s.loc["gamma", "overall"] == pytest.approx((80 * 8 + 40 * 6) / 120)  # pooled, as FastChat
    assert s.loc["gamma", ["n_valid", "n_failed"]].tolist() == [120, 40]
    assert s.loc["alpha", ["n_valid", "n_failed"]].tolist() == [160, 0]
    assert list(s.index) == ["gamma", "alpha", "noisy", "beta"]  # 7.33 > 7 = 7 > 4.5; ties keep name order
    assert t.failed == 40 and t.failure_reasons == {"unparseable": 20, "api_error": 20}
    assert t.duplicates_dropped == 2

    cat = t.by_category
    assert list(cat.index) == list(CATEGORIES) and list(cat.columns) == list(s.index)
    assert cat["beta"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert cat["alpha"].tolist() == [7] * 8
    assert cat["gamma"].tolist() == [8, 8, 8, 8, 7, 7, 7, 7]  # turn 2 failed on 81-120


def test_synthetic_cis_are_seeded_and_sensible(synthetic_single):
    a = single_tables(synthetic_single, n_bootstrap=500, seed=1).scores
    b = single_tables(synthetic_single, n_bootstrap=500, seed=1).scores
    c = single_tables(synthetic_single, n_bootstrap=500, seed=2).scores
    assert a[["ci_low", "ci_high"]].equals(b[["ci_low", "ci_high"]])
    assert not a[["ci_low", "ci_high"]].equals(c[["ci_low", "ci_high"]])
    assert a.loc["alpha", ["ci_low", "ci_high"]].tolist() == [7, 7]  # every question scores 7
    low, high = a.loc["beta", ["ci_low", "ci_high"]]
    assert 3.5 < low < 4.5 < high < 5.5
    assert single_tables(synthetic_single, n_bootstrap=0).scores["ci_low"].isna().all()


def test_paired_comparison(synthetic_single):
    clear = paired_comparison(synthetic_single, "alpha", "beta", n_bootstrap=1000, seed=3)
    assert clear.difference == pytest.approx(2.5) and clear.mean_a == 7 and clear.mean_b == 4.5
    assert clear.n_questions == 80 and clear.n_items == 160
    assert 0 < clear.ci_low < 2.5 < clear.ci_high and clear.significant
    flipped = paired_comparison(synthetic_single, "beta", "alpha", n_bootstrap=1000, seed=3)
    assert flipped.difference == pytest.approx(-2.5) and flipped.ci_high < 0 and flipped.significant
    same = paired_comparison(synthetic_single, "alpha", "noisy", n_bootstrap=1000, seed=3)
    assert same.difference == pytest.approx(0) and same.ci_low < 0 < same.ci_high and not same.significant
    # Only items both have count: gamma's 40 failed turn-2 judgments drop those items.
    partial = paired_comparison(synthetic_single, "gamma", "alpha", n_bootstrap=200, seed=3)
    assert partial.n_items == 120 and partial.difference == pytest.approx(0)
    again = paired_comparison(synthetic_single, "alpha", "beta", n_bootstrap=1000, seed=3)
    assert (again.ci_low, again.ci_high) == (clear.ci_low, clear.ci_high)


def test_bootstrap_mean_ci_covers_the_mean():
    values = np.random.default_rng(0).normal(5.0, 1.0, 400)
    low, high = bootstrap_mean_ci(values, n_bootstrap=2000, seed=0)
    se = values.std() / np.sqrt(len(values))
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)


# ---------------------------------------------------------------------------------------------------
# synthetic pairwise judgments


def pair_row(qid, m1, m2, g1, g2, turn=1):
    return {
        "question_id": qid, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
        "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "", "g1_judgment": "", "g2_user_prompt": "",
        "g2_judgment": "", "turn": turn, "tstamp": 0.0,
    }


def synthetic_pair_rows() -> list[dict]:
    rows = []
    for q in range(81, 91):
        rows.append(pair_row(q, "A", "base", "model_1", "model_1"))  # A beats the baseline 10 times
        rows.append(pair_row(q, "B", "base", "model_2", "model_2"))  # B loses 10 times
        rows.append(pair_row(q, "A", "B", "model_1", "model_1"))  # pairwise-all rows, not the baseline's
    for q in range(91, 95):
        rows.append(pair_row(q, "A", "base", "tie", "model_1"))  # tie in game 1 -> tie
        rows.append(pair_row(q, "B", "base", "model_1", "model_2"))  # disagreeing games -> tie
        rows.append(pair_row(q, "C", "A", "model_1", "model_1"))  # C only meets A
    rows.append(pair_row(95, "A", "base", "error", "model_1"))  # excluded, counted
    rows.append(pair_row(96, "A", "base", "model_2", "model_2"))  # stale: the rerun below replaces it
    rows.append(pair_row(96, "A", "base", "model_1", "model_1"))
    rows.append(pair_row(97, "B", "base", "model_2", "model_2"))
    rows.append(pair_row(97, "B", "base", "model_2", "model_2"))  # exact repeat
    return rows


@pytest.fixture()
def synthetic_pairs(tmp_path):
    return load_pair_judgments(write_jsonl(tmp_path / "p.jsonl", synthetic_pair_rows()))


def test_synthetic_pairwise_baseline(synthetic_pairs):
    r = pairwise_table(synthetic_pairs, baseline="base", n_bootstrap=300, seed=0)
    t = r.table
    assert list(t.index) == ["A", "B"]  # baseline's row removed; C never met the baseline
    assert t.loc["A", ["win", "loss", "tie", "n_error"]].tolist() == [11, 0, 4, 1]
    assert t.loc["B", ["win", "loss", "tie", "n_error"]].tolist() == [0, 11, 4, 0]
    assert t.loc["A", "win_rate"] == pytest.approx(11 / 15)
    assert t.loc["A", "win_rate_adjusted"] == pytest.approx(13 / 15)
    assert t.loc["B", "loss_rate"] == pytest.approx(11 / 15)
    assert r.duplicates_dropped == 2 and r.errors == 1 and r.matches == 30
    assert r.consistency == pytest.approx(22 / 30)  # 8 matches whose games disagree
    assert t.loc["A", "consistency"] == pytest.approx(11 / 15) == t.loc["B", "consistency"]
    assert t.loc["A", "adjusted_ci_low"] <= 13 / 15 <= t.loc["A", "adjusted_ci_high"] <= 1.0
    only_b = pairwise_table(synthetic_pairs, baseline="base", model_list=["B", "base"], n_bootstrap=0)
    assert list(only_b.table.index) == ["B"]


def test_synthetic_pairwise_all_and_model_list(synthetic_pairs):
    t = pairwise_table(synthetic_pairs, n_bootstrap=0).table
    assert t.loc["A", ["win", "loss", "tie"]].tolist() == [21, 4, 4]  # 11 + 10 vs B; 4 losses to C
    assert t.loc["C", ["win", "loss", "tie"]].tolist() == [4, 0, 0]
    assert t.loc["base", ["win", "loss", "tie"]].tolist() == [11, 11, 8]
    # FastChat kept a row when model_1 was listed; we keep it when both models are: C-vs-A (C is model_1)
    # and A-vs-base drop out when only A and B are listed.
    ab = pairwise_table(synthetic_pairs, model_list=["A", "B"], n_bootstrap=0).table
    assert list(ab.index) == ["A", "B"]
    assert ab.loc["A", ["win", "loss", "tie"]].tolist() == [10, 0, 0]
    assert ab.loc["B", ["win", "loss", "tie"]].tolist() == [0, 10, 0]


# ---------------------------------------------------------------------------------------------------
# radar chart


def test_radar_plots_the_category_table(synthetic_single, tmp_path):
    cat = single_tables(synthetic_single, categories=mt_bench_categories(QIDS), n_bootstrap=0).by_category
    fig = radar_figure(cat)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert list(lines) == list(cat.columns)
    for model, line in lines.items():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert y[:-1].tolist() == cat[model].tolist() and y[-1] == y[0]  # closed polygon
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CATEGORIES)
    assert ax.get_ylim() == (0, 10)
    out = tmp_path / "radar.png"
    fig.savefig(out, format="png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(data) < 2_000_000


# ---------------------------------------------------------------------------------------------------
# CLI end to end
#
# Every `mtbench` subprocess pays the interpreter and import start-up, so the runs a test needs are started
# together and awaited together; a few error cases go through the same `main()` in-process.


def mtbench(*args: str) -> subprocess.CompletedProcess:
    return mtbench_many([list(args)])[0]


def mtbench_many(arg_lists: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run `mtbench show ARGS` for each ARGS concurrently; results in the same order."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mtbench", "show", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in arg_lists
    ]
    out = []
    for proc, args in zip(procs, arg_lists, strict=True):
        stdout, stderr = proc.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return out


def mtbench_in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """The same entry point as the command line, without a new interpreter."""
    from mtbench.cli import main

    code = main(["show", *args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.fixture()
def run_dir(data_dir):
    """A data dir with the real question file and FastChat judgment files from two third-party runs."""
    judgments = data_dir / "mt_bench" / "model_judgment"
    judgments.mkdir(parents=True)
    shutil.copy(MUHAN_SINGLE, judgments / "gpt-4_single.jsonl")
    shutil.copy(STEFAN_PAIR, judgments / "gpt-4_pair.jsonl")
    return data_dir


MODE_ARGS = {
    "single": ["--mode", "single"],
    "pairwise-baseline": ["--mode", "pairwise-baseline", "--baseline-model", "phi-3"],
    "pairwise-all": ["--mode", "pairwise-all"],
}
FORMATS = ("table", "markdown", "csv", "json")


def test_cli_every_mode_and_format(run_dir, capsys):
    runs = [(mode, fmt) for mode in MODE_ARGS for fmt in FORMATS]
    out = {}
    for mode, fmt in runs:
        result = mtbench_in_process(capsys, "--data-dir", str(run_dir), *MODE_ARGS[mode], "--format", fmt)
        assert result.returncode == 0, result.stderr
        out[(mode, fmt)] = result.stdout
    # As real subprocesses: every mode and every format at least once, and single/json twice (a fresh
    # interpreter gives the same bootstrap numbers). Output must equal the in-process output exactly.
    sub_runs = [("single", "json"), ("single", "json"), ("single", "table"), ("pairwise-baseline", "csv"),
                ("pairwise-all", "markdown")]
    results = mtbench_many([["--data-dir", str(run_dir), *MODE_ARGS[m], "--format", f] for m, f in sub_runs])
    for run, result in zip(sub_runs, results, strict=True):
        assert result.returncode == 0, result.stderr
        assert result.stdout == out[run], run

    for mode in MODE_ARGS:
        report = json.loads(out[(mode, "json")])
        models = {m["model"]: m for m in report["models"]}
        rows = list(csv.DictReader(io.StringIO(out[(mode, "csv")])))
        assert {r["model"] for r in rows} == set(models)
        table, markdown = out[(mode, "table")], out[(mode, "markdown")]
        assert markdown.startswith("## ") and "|---:|" in markdown
        if mode == "single":
            assert models[SONNET]["overall"] == pytest.approx(9.20625)
            assert models[OPUS]["second_turn"] == pytest.approx(8.30625)
            assert models[SONNET]["n_valid"] == 160 and models[SONNET]["n_failed"] == 0
            assert report["category_source"].endswith("question.jsonl")
            assert report["by_category"]["math"][SONNET] is not None
            assert float(rows[0]["overall"]) == pytest.approx(9.20625, abs=1e-5) and "humanities" in rows[0]
            line = next(x for x in table.splitlines() if x.startswith(SONNET))
            assert line.split()[1:4] == ["9.24", "9.18", "9.21"]
            assert "Score by category" in table and f"| {SONNET} | 9.24 | 9.18 | 9.21 |" in markdown
        else:
            assert [models["phi-3-dpo"][k] for k in ("win", "loss", "tie", "n_error")] == [20, 18, 35, 2]
            assert set(models) == ({"phi-3-dpo"} if mode == "pairwise-baseline" else {"phi-3", "phi-3-dpo"})
            assert report["consistency"] == pytest.approx(46 / 73)
            assert [int(r["win"]) for r in rows if r["model"] == "phi-3-dpo"] == [20]
            line = next(x for x in table.splitlines() if x.startswith("phi-3-dpo"))
            assert line.split()[1:5] == ["20", "18", "35", "2"]
            assert "Position consistency: 0.630 of 73 matches" in table


def test_cli_compare_plot_duplicates_and_fallback_categories(tmp_path, capsys):
    data = tmp_path / "data"
    write_jsonl(data / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl", synthetic_single_rows())
    png = tmp_path / "radar.png"
    out = mtbench(
        "--data-dir", str(data), "--compare", "alpha", "beta", "--plot", str(png), "--model-list", "alpha", "beta",
        "gamma", "--format", "json",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [m["model"] for m in report["models"]] == ["gamma", "alpha", "beta"]
    assert report["duplicates_dropped"] == 2 and report["failed"] == 40
    assert report["category_source"] == "MT-bench question-id blocks"  # no question file in this data dir
    assert report["by_category"]["roleplay"]["beta"] == 2
    cmp = report["comparison"]
    assert cmp["difference"] == pytest.approx(2.5) and cmp["significant"] and cmp["ci_low"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = mtbench_in_process(capsys, "--data-dir", str(data), "--compare", "alpha", "noisy")
    assert text.returncode == 0
    assert "interval includes 0" in text.stdout and "2 duplicate judgment(s) dropped" in text.stdout
    assert "40 failed judgment(s)" in text.stdout
    gamma = next(x for x in text.stdout.splitlines() if x.startswith("gamma"))
    assert gamma.split()[-2:] == ["120", "40"]  # valid, failed: the failures cannot hide


def one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_cli_errors_as_subprocess(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(single_row(81, "a", 1, 5)) + "\n{not json}\n" + json.dumps(single_row(82, "a", 1, 5)) + "\n")
    missing, malformed, flag = mtbench_many(
        [["--data-dir", str(tmp_path / "nowhere")], ["--input-file", str(bad)], ["--bootstrap", "-1"]]
    )
    err = one_line_error(missing)
    assert "nowhere/mt_bench/model_judgment/gpt-4_single.jsonl" in err and "mtbench judge --mode single" in err
    assert f"{bad}:2:" in one_line_error(malformed)
    assert "--bootstrap" in one_line_error(flag)


def test_cli_errors(run_dir, tmp_path, capsys):
    def error(*args: str) -> str:
        return one_line_error(mtbench_in_process(capsys, *args))

    err = error("--data-dir", str(tmp_path / "nowhere"), "--mode", "pairwise-all")
    assert "gpt-4_pair.jsonl" in err and "mtbench judge --mode pairwise-all" in err
    err = error("--data-dir", str(run_dir), "--model-list", SONNET, "ghost-7b")
    assert "ghost-7b" in err and "--model-list" in err
    err = error("--data-dir", str(run_dir), "--mode", "pairwise-baseline")
    assert "gpt-3.5-turbo" in err and "--baseline-model" in err
    err = error("--data-dir", str(run_dir), "--mode", "pairwise-all", "--model-list", "phi-3", "ghost-7b")
    assert "ghost-7b" in err
    err = error("--data-dir", str(run_dir), "--compare", SONNET, "ghost-7b")
    assert "ghost-7b" in err
    err = error("--data-dir", str(run_dir), "--mode", "pairwise-all", "--plot", "x.png")
    assert "--plot" in err
    err = error("--data-dir", str(run_dir), "--mode", "pairwise-all", "--compare", "phi-3", "phi-3-dpo")
    assert "--compare" in err
    err = error("--data-dir", str(run_dir), "--plot", str(tmp_path / "no" / "such" / "dir" / "r.png"))
    assert "--plot" in err
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    err = error("--input-file", str(empty))
    assert str(empty) in err and "empty" in err
