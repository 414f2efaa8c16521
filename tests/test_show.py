"""`mtbench show`: FastChat parity on real third-party runs, known values on synthetic files, the radar chart,
and the CLI end to end (every mode and format, and the user errors)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtbench.core.bench import CATEGORIES
from mtbench.core.record_files import load_pair_judgments, load_single_judgments
from mtbench.show_result import (
    bootstrap_mean_ci,
    mt_bench_categories,
    paired_comparison,
    pairwise_table,
    radar_figure,
    single_tables,
)
from tests.cli import mtbench, mtbench_command, process_env

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
# `show` runs in-process (tests/cli.py); one test also runs it in fresh interpreters, whose output must be
# byte-identical (the bootstrap's numbers do not depend on the process).


def show(*args: str) -> subprocess.CompletedProcess:
    return mtbench("show", *args)


def show_processes(arg_lists: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run `mtbench show ARGS` for each ARGS as concurrent real processes; results in the same order."""
    procs = [subprocess.Popen(mtbench_command("show", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=process_env()) for args in arg_lists]
    out = []
    for proc, args in zip(procs, arg_lists, strict=True):
        stdout, stderr = proc.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return out


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


@pytest.mark.slow
def test_cli_every_mode_and_format(run_dir, capsys):
    runs = [(mode, fmt) for mode in MODE_ARGS for fmt in FORMATS]
    out = {}
    for mode, fmt in runs:
        result = show("--data-dir", str(run_dir), *MODE_ARGS[mode], "--format", fmt)
        assert result.returncode == 0, result.stderr
        out[(mode, fmt)] = result.stdout
    # As real processes, each a fresh interpreter with its own hash seed: the same bootstrap numbers, so the
    # output equals the in-process output exactly (every mode and format ran in-process above).
    sub_runs = [("single", "json"), ("pairwise-all", "json")]
    results = show_processes([["--data-dir", str(run_dir), *MODE_ARGS[m], "--format", f] for m, f in sub_runs])
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
    out = show(
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
    text = show("--data-dir", str(data), "--compare", "alpha", "noisy")
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


def test_cli_errors_missing_malformed_and_bad_flag(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(single_row(81, "a", 1, 5)) + "\n{not json}\n" + json.dumps(single_row(82, "a", 1, 5)) + "\n")
    missing, malformed, flag = (show("--data-dir", str(tmp_path / "nowhere")), show("--input-file", str(bad)),
                                show("--bootstrap", "-1"))
    err = one_line_error(missing)
    assert "nowhere/mt_bench/model_judgment/gpt-4_single.jsonl" in err and "mtbench judge --mode single" in err
    assert f"{bad}:2:" in one_line_error(malformed)
    assert "--bootstrap" in one_line_error(flag)


def test_cli_errors(run_dir, tmp_path, capsys):
    def error(*args: str) -> str:
        return one_line_error(show(*args))

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


# ---------------------------------------------------------------------------------------------------
# what the report says about its own rows: the recorded judges, coverage, every model on the radar


def test_input_file_names_the_judges_it_records(tmp_path, capsys):
    single = write_jsonl(tmp_path / "mine.jsonl", [
        single_row(81, "m", 1, 7, judge=["llama-judge", "single-v1"]),
        single_row(82, "m", 1, 5, judge=["qwen-judge", "single-v1"]),
    ])
    pair = write_jsonl(tmp_path / "pairs.jsonl", [{**pair_row(81, "A", "B", "model_1", "model_1"),
                                                  "judge": ["/models/smol-hf", "pair-v2"]}])
    text = show("--input-file", str(single))
    assert text.returncode == 0, text.stderr
    heading = text.stdout.splitlines()[0]
    assert heading == f"Single-answer grading (judge llama-judge, qwen-judge; {single})"  # not --judge-model's gpt-4
    data = json.loads(show("--input-file", str(single), "--format", "json").stdout)
    assert data["judges"] == ["llama-judge", "qwen-judge"]
    md = show("--input-file", str(pair), "--mode", "pairwise-all", "--format", "markdown")
    assert md.stdout.splitlines()[0] == f"## Pairwise (all pairs; judge /models/smol-hf; {pair})"


def coverage_rows() -> list[dict]:
    """full: every question; few: 6 questions (81-86); half: 40 questions, all turn-2 judgments failed."""
    rows = []
    for q in QIDS:
        for turn in (1, 2):
            rows.append(single_row(q, "full", turn, 5))
            if q <= 86:
                rows.append(single_row(q, "few", turn, 9))
            if q <= 120:
                rows.append(single_row(q, "half", turn, 7) if turn == 1 else
                            single_row(q, "half", turn, None, error="api_error", judgment=""))
            else:
                rows.append(single_row(q, "half", turn, None, error="api_error", judgment=""))
    return rows


def test_partial_rows_are_counted_and_marked_in_every_format(data_dir, capsys):
    write_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl", coverage_rows())
    out = {fmt: show("--data-dir", str(data_dir), "--format", fmt, "--bootstrap", "0")
           for fmt in FORMATS}
    assert all(r.returncode == 0 for r in out.values()), [r.stderr for r in out.values()]

    data = json.loads(out["json"].stdout)
    models = {m["model"]: m for m in data["models"]}
    assert [models[m]["n_questions"] for m in ("few", "full", "half")] == [6, 80, 40]
    assert [models[m]["partial"] for m in ("few", "full", "half")] == [True, False, True]
    assert models["half"]["n_valid"] == 40  # failed judgments cover no question
    assert data["bench_questions"] == 80
    note = next(n for n in data["notes"] if n.startswith("partial coverage"))
    assert "few 6" in note and "half 40" in note and "80" in note and "full" not in note

    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(out["csv"].stdout))}
    assert (rows["few"]["n_questions"], rows["few"]["partial"]) == ("6", "True")
    assert (rows["full"]["n_questions"], rows["full"]["partial"]) == ("80", "False")

    table = out["table"].stdout.splitlines()
    # "half" failed on 120 of its 160 judgments (of 12 + 160 + 160): the table is headed by the failure warning
    assert table[0].startswith("warning: the judge (gpt-4) gave no verdict on 120 of 332 matches (36%)")
    table = table[2:]
    header = table[1].split()
    assert header[-3:] == ["questions", "valid", "failed"]
    cells = {line.split()[0]: line.split() for line in table[3:6]}
    assert cells["few"][-3:] == ["6*", "12", "0"] and cells["full"][-3] == "80" and cells["half"][-3] == "40*"
    assert any(line.startswith("note: partial coverage (marked *): ") for line in table)
    md = out["markdown"].stdout
    assert "| few | 9.00 | 9.00 | 9.00 | - | 6\\* | 12 | 0 |" in md and "| 80 | 160 | 0 |" in md
    assert "- partial coverage" in md


def test_partial_is_relative_to_the_bench_and_to_the_most_covered(synthetic_pairs):
    equal = load_single_judgments_from_rows([single_row(q, m, 1, 5) for q in range(81, 91) for m in ("a", "b")])
    alone = single_tables(equal, n_bootstrap=0).scores
    assert alone["n_questions"].tolist() == [10, 10] and not alone["partial"].any()  # no bench size known
    of_bench = single_tables(equal, n_bootstrap=0, bench_questions=80).scores
    assert of_bench["partial"].all()  # 10 of the bench's 80 questions
    table = pairwise_table(synthetic_pairs, n_bootstrap=0).table
    assert table.loc["C", "n_questions"] == 4 and table.loc["C", "partial"]  # C only met A on 91-94
    assert table.loc["A", "n_questions"] == 15 and table.loc["A", "partial"]  # 81-94 and 96 (95 failed)
    assert table.loc["base", "n_questions"] == 16 and not table.loc["base", "partial"]  # 81-94, 96, 97: the most


def load_single_judgments_from_rows(rows: list[dict]):
    from mtbench.core.records import SingleJudgment

    return [SingleJudgment.from_json(r) for r in rows]


def test_radar_draws_a_model_scored_in_one_category():
    from matplotlib.colors import to_rgb

    cats = list(CATEGORIES)
    table = pd.DataFrame({"full": np.arange(1.0, 9.0), "solo": [np.nan] * 3 + [6.0] + [np.nan] * 4},
                         index=pd.Index(cats, name="category"))
    fig = radar_figure(table)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    solo = lines["solo"]
    y = np.asarray(solo.get_ydata(), dtype=float)
    assert np.flatnonzero(np.isfinite(y)).tolist() == [3] and y[3] == 6.0  # one point, at math
    assert solo.get_marker() not in (None, "", " ", "None") and solo.get_markersize() > 0
    # And it reaches the pixels: the solo line's colour appears inside the polar axes (the legend is below).
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(int)
    x0, y0, x1, y1 = (int(v) for v in ax.bbox.extents)
    inside = image[image.shape[0] - y1:image.shape[0] - y0, x0:x1]
    for model, line in lines.items():
        colour = np.array(to_rgb(line.get_color())) * 255
        assert (np.abs(inside - colour).max(axis=2) <= 10).sum() > 10, model


# ---------------------------------------------------------------------------------------------------
# a judge named like a path (how `transformers serve` names a local model), end to end


def test_judge_named_like_a_path_is_read_by_show_and_agreement(data_dir, openai_server):
    """`judge` writes __path__to__smol-hf_*.jsonl; `show` and `agreement` find it by the same name."""

    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True)
    for model in ("alpaca-13b", "llama-13b"):
        shutil.copy(REFERENCE_RUNS / "model_answer" / f"{model}.jsonl", answers / f"{model}.jsonl")
    openai_server.responder = lambda body: "Fine. Rating: [[6]] Verdict: [[A]]"  # one reply for both prompt kinds
    judges = ("/path/to/smol-hf", "/models/judge-b")
    for judge, mode in [[judges[0], "single"], [judges[0], "pairwise-all"], [judges[1], "pairwise-all"]]:
        done = mtbench("judge", "--data-dir", data_dir, "--judge-base-url", openai_server.base_url, "--judge-model",
                       judge, "--mode", mode, "--first-n", "2", "--no-progress",
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": None})
        assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (data_dir / "mt_bench" / "model_judgment").glob("*.jsonl"))
    assert written == ["__models__judge-b_pair.jsonl", "__path__to__smol-hf_pair.jsonl",
                       "__path__to__smol-hf_single.jsonl"]

    single = show("--data-dir", str(data_dir), "--judge-model", judges[0], "--format", "json")
    pair = show("--data-dir", str(data_dir), "--judge-model", judges[0], "--mode", "pairwise-all")
    assert single.returncode == 0, single.stderr
    report = json.loads(single.stdout)
    assert report["judges"] == [judges[0]]
    assert {m["model"]: m["overall"] for m in report["models"]} == {"alpaca-13b": 6.0, "llama-13b": 6.0}
    assert pair.returncode == 0, pair.stderr
    assert f"judge {judges[0]};" in pair.stdout.splitlines()[0]

    done = mtbench("agreement", "--data-dir", data_dir, "--judge-models", *judges, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {(r["comparison"], r["turn"], r["ties"]): (r["total"], r["agree"]) for r in json.loads(done.stdout)["rows"]}
    label = f"{judges[0]} vs {judges[1]}"  # the judges' real names, not their file names
    assert rows[(label, "all", True)] == (4, 4)  # 2 questions x 2 turns, one model pair, the same verdicts


# ---------------------------------------------------------------------------------------------------
# provenance: what produced a table, and a refusal when one table mixes sources


def _provenance_judge(model: str, fingerprint: str | None = "fp_test"):
    from tests.openai_server import completion

    return lambda body: completion("Judged. Rating: [[7]]", model=model, system_fingerprint=fingerprint)


def test_judgments_record_provenance_and_show_prints_it(data_dir, capsys):
    import hashlib

    from mtbench import __version__
    from tests.openai_server import OpenAITestServer
    from tests.test_judge import OFFICIAL, add_answers, judge, rows, single_file

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl")
    with OpenAITestServer(_provenance_judge("gpt-4-0613")) as server:
        done = judge(data_dir, server, "--first-n", "80", "--model-list", "alpaca-13b", "--no-progress")
    assert done.returncode == 0, done.stderr
    prompts_sha = hashlib.sha256((data_dir / "judge_prompts.jsonl").read_bytes()).hexdigest()
    ref_sha = hashlib.sha256((data_dir / "mt_bench" / "reference_answer" / "gpt-4.jsonl").read_bytes()).hexdigest()
    records = rows(single_file(data_dir))
    for r in records:
        p = r["provenance"]
        assert (p["judge_reported_model"], p["system_fingerprint"]) == ("gpt-4-0613", "fp_test")
        assert p["judge_prompt_sha256"] == prompts_sha and p["mtbench_version"] == __version__
        if r["reference"] is None:
            assert "reference_sha256" not in p
        else:
            assert (p["reference"], p["reference_sha256"]) == ("gpt-4", ref_sha)
    assert any(r["reference"] for r in records) and any(r["reference"] is None for r in records)

    out = show("--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("provenance: "))
    assert line == (
        f"provenance: judge gpt-4-0613; fingerprint fp_test; prompts sha256 {prompts_sha[:12]}; "
        f"reference gpt-4 ({ref_sha[:12]}); mtbench {__version__}"
    )


def test_mixed_judge_snapshots_are_refused_in_one_line(data_dir, capsys):
    from tests.openai_server import OpenAITestServer
    from tests.test_judge import OFFICIAL, add_answers, judge, rows, single_file

    add_answers(data_dir, OFFICIAL / "alpaca-13b.jsonl", OFFICIAL / "llama-13b.jsonl")
    for model, snapshot in (("alpaca-13b", "gpt-4-0613"), ("llama-13b", "gpt-4-0125-preview")):
        with OpenAITestServer(_provenance_judge(snapshot)) as server:
            done = judge(data_dir, server, "--first-n", "3", "--model-list", model, "--no-progress")
        assert done.returncode == 0, done.stderr
    refused = show("--data-dir", str(data_dir))
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "gpt-4-0613" in refused.stderr and "gpt-4-0125-preview" in refused.stderr
    assert "--allow-mixed" in refused.stderr

    allowed = show("--data-dir", str(data_dir), "--allow-mixed")
    assert allowed.returncode == 0 and "WARNING: this table mixes judge snapshots" in allowed.stdout
    one = show("--data-dir", str(data_dir), "--model-list", "llama-13b")
    assert one.returncode == 0 and "provenance: judge gpt-4-0125-preview;" in one.stdout

    # Records without provenance (FastChat's) are unknown, not a conflict.
    path = single_file(data_dir)
    kept = [r for r in rows(path) if r["model"] == "llama-13b"]
    bare = [{k: v for k, v in r.items() if k != "provenance"} | {"model": "fastchat-run"} for r in kept]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept + bare))
    mixed_unknown = show("--data-dir", str(data_dir))
    assert mixed_unknown.returncode == 0, mixed_unknown.stderr
    assert f"{len(bare)} judgment(s) without provenance" in mixed_unknown.stdout


def test_mixed_prompt_files_are_refused():
    from mtbench.core.errors import UserError
    from mtbench.core.records import SingleJudgment
    from mtbench.show_result.provenance import check_mixed, table_provenance

    def record(sha: str) -> SingleJudgment:
        return SingleJudgment(question_id=81, model="m", judge=("j", "single-v1"), user_prompt="", judgment="",
                              score=5, turn=1, extra={"provenance": {"judge_prompt_sha256": sha}})

    prov = table_provenance([record("a" * 64), record("a" * 64), record("b" * 64)])
    with pytest.raises(UserError, match=f"judge prompt files \\(sha256\\) {'a' * 64} \\(2 judgments\\) and {'b' * 64}"):
        check_mixed(prov, "f.jsonl", allow_mixed=False)
    assert check_mixed(table_provenance([record("a" * 64)]), "f.jsonl", allow_mixed=False) is None
