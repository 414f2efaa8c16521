"""`mtbench validate-judge` (issue 24, part 2) against scripted judges of set behaviour on loopback.

The votes are the real joined CSV of shared/mt_bench_reference/human_judgments_partial/ and the answers
the real published ones. One judge copies the experts' majority vote on each game (so it agrees with
them as often as the experts agree with their own majority); one always answers 'A' (every match is an
inconsistent tie: kappa 0, consistency 0, the first position wins every decisive verdict). The expected
numbers are counted here from the CSV, apart from the code under test.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.cli import mtbench
from tests.conftest import REFERENCE_RUNS, REPO

CSV_ZIP = REFERENCE_RUNS / "human_judgments_partial" / "human_gpt_comparison.zip"
MODELS = ("gpt-4", "gpt-3.5-turbo", "claude-v1", "vicuna-13b-v1.3", "alpaca-13b", "llama-13b")
SAMPLE = "40"


def flip(w: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(w, w)


@pytest.fixture(scope="module")
def expert_votes() -> dict[tuple[int, int, str, str], list[str]]:
    """Expert votes per game (turn, question, models sorted), winners oriented to the sorted order: read
    from the CSV by hand (each distinct (judge, turn, question, pair) once; authors left out)."""
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(CSV_ZIP) as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open("human_gpt_comparison.csv"), encoding="utf-8")))
    seen = {}
    for r in rows:
        if r["judge_x"].startswith("expert"):
            seen[(r["judge_x"], int(r["turn_x"]), int(r["question_id"]), r["model_a"], r["model_b"])] = r["winner_x"]
    out: dict[tuple[int, int, str, str], list[str]] = defaultdict(list)
    for (_, turn, q, a, b), w in seen.items():
        out[(turn, q, *sorted((a, b)))].append(w if a <= b else flip(w))
    return dict(out)


@pytest.fixture(scope="module")
def votes_json(expert_votes, tmp_path_factory) -> Path:
    """The same expert votes in the dataset's JSON layout (HF split ``human``), one object per vote."""
    import json

    path = tmp_path_factory.mktemp("votes") / "human.json"
    path.write_text(json.dumps([
        {"question_id": q, "model_a": a, "model_b": b, "winner": w, "judge": f"expert_{i}", "turn": t}
        for (t, q, a, b), ws in sorted(expert_votes.items()) for i, w in enumerate(ws)
    ]))
    return path


@pytest.fixture()
def bench(data_dir: Path) -> Path:
    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True)
    for m in MODELS:
        shutil.copy(REFERENCE_RUNS / "model_answer" / f"{m}.jsonl", answers)
    return data_dir


def majority(winners: list[str]) -> str:
    counts = Counter("tie" if "tie" in w else w for w in winners).most_common()
    return counts[0][0]


def prompt_games(data_dir: Path, voted) -> dict[str, tuple[tuple[int, int, str, str], str, str]]:
    """Judge prompt text -> (game, model shown as A, as B), from the matches validate-judge can send (two
    models' answers are sometimes the same text, so only voted games are mapped)."""
    from mtbench.core.bench import BenchLayout
    from mtbench.gen_judgment.plan import load_work
    from mtbench.validate_judge.command import ValidateConfig

    config = ValidateConfig(layout=BenchLayout(data_dir=data_dir)).judge_config(MODELS, frozenset())
    from dataclasses import replace

    work = load_work(replace(config, games=None))
    out = {}
    for m in work.matches:
        game = (m.turn, m.question_id, *sorted((m.model_1, m.model_2)))
        if game not in voted:
            continue
        out[m.g1_user_prompt] = (game, m.model_1, m.model_2)
        out[m.g2_user_prompt] = (game, m.model_2, m.model_1)
    return out


def run(data_dir: Path, server, *args: str, human: Path = CSV_ZIP):
    return mtbench("validate-judge", "--data-dir", data_dir, "--human", human, "--judge-base-url",
                   server.base_url, "--sample", SAMPLE, "--no-progress", *args,
                   env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": None}, cwd=REPO)


@pytest.mark.slow
def test_copying_judge_agrees_as_the_experts_majority(bench, openai_server, expert_votes):
    prompts = prompt_games(bench, expert_votes)
    judged = []

    def copy_majority(body) -> str:
        game, shown_a, shown_b = prompts[body["messages"][1]["content"]]
        judged.append(game)
        vote = majority(expert_votes[game])
        if vote == "tie":
            return "Both are equal. [[C]]"
        winner = game[2] if vote == "model_a" else game[3]
        return "[[A]]" if winner == shown_a else "[[B]]"

    openai_server.responder = copy_majority
    out = run(bench, openai_server)
    assert out.returncode == 0, out.stderr
    games = set(judged)
    assert len(games) == int(SAMPLE) and len(judged) == 2 * int(SAMPLE)
    # by hand: each expert vote against the majority of its game
    pairs = [(majority(expert_votes[g]), "tie" if "tie" in w else w) for g in games for w in expert_votes[g]]
    agree = sum(a == b for a, b in pairs)
    decisive = [(a, b) for a, b in pairs if a != "tie" and b != "tie"]
    line = next(x for x in out.stdout.splitlines() if x.startswith("gpt-4 vs experts") and "  all  " in x)
    cells = line.split()
    assert cells[4:6] == [str(len(pairs)), f"{agree / len(pairs):.0%}"], line
    assert cells[8:10] == [str(len(decisive)), f"{sum(a == b for a, b in decisive) / len(decisive):.0%}"], line
    assert agree / len(pairs) > 0.9
    assert "position consistency 100% of 40 games" in out.stdout
    assert "paper: GPT-4 vs experts" in out.stdout and "66%" in out.stdout and "85%" in out.stdout
    assert out.stdout.rstrip().splitlines()[-1].startswith("gpt-4 agrees with the experts")


def test_always_a_judge_has_kappa_zero_and_shows_its_position_bias(bench, openai_server, votes_json, expert_votes):
    openai_server.responder = lambda body: "Assistant A is better. [[A]]"
    out = run(bench, openai_server, "--judge-model", "always-a", "--price-input", "0", "--price-output", "0",
              human=votes_json)
    assert out.returncode == 0, out.stderr
    (all_row,) = [x.split() for x in out.stdout.splitlines() if x.split()[:4] == ["always-a", "vs", "experts", "all"]]
    assert all_row[-1] == "0.00"  # kappa: the judge's one category (a tie) carries no information
    # by hand: every judge vote is an (inconsistent) tie, so it agrees exactly with the expert ties
    import json
    records = [json.loads(line) for line in (bench / "mt_bench" / "model_judgment" / "validate_judge"
                                             / "always-a_pair.jsonl").read_text().splitlines()]
    games = {(r["turn"], r["question_id"], *sorted((r["model_1"], r["model_2"]))) for r in records}
    assert len(games) == 40 and {(r["g1_winner"], r["g2_winner"]) for r in records} == {("model_1", "model_2")}
    votes = [w for g in games for w in expert_votes[g]]
    ties = sum("tie" in w for w in votes)
    assert all_row[4:6] == [str(len(votes)), f"{ties / len(votes):.0%}"]
    assert all_row[8:11] == ["0", "-", "-"]  # without ties: nothing is left to compare
    assert "position consistency 0% of 40 games" in out.stdout
    assert "the answer shown first wins 100% of its decisive verdicts" in out.stdout
    # no GPT-4 votes in this file: set beside the paper's 66% on turn 1
    assert "points less often than GPT-4 did in the paper" in out.stdout.splitlines()[-1]


def test_rerun_resumes_and_the_votes_file_is_checked(bench, openai_server, tmp_path, votes_json):
    openai_server.responder = lambda body: "[[C]]"
    assert run(bench, openai_server, human=votes_json).returncode == 0
    sent = len(openai_server.chat_requests)
    again = run(bench, openai_server, human=votes_json)
    assert again.returncode == 0 and len(openai_server.chat_requests) == sent
    assert "already judged 40; to judge 0" in again.stdout
    bad = tmp_path / "votes.json"
    bad.write_text('[{"question_id": 81, "model_a": "gpt-4", "model_b": "llama-13b", "winner": "model_c", '
                   '"judge": "expert_1", "turn": 1}]')
    out = mtbench("validate-judge", "--data-dir", bench, "--human", bad, "--dry-run", cwd=REPO)
    assert out.returncode == 2
    assert out.stderr.strip() == (f"mtbench validate-judge: error: {bad}: item 1: field 'winner' must be model_a, "
                                  'model_b or a tie, got "model_c"')
    none = mtbench("validate-judge", "--data-dir", bench, "--dry-run", cwd=REPO)
    assert none.returncode == 2 and "not pinned in this build" in none.stderr and "--human FILE" in none.stderr


def test_sample_is_stratified_by_turn_and_category_and_seeded():
    from mtbench.validate_judge.stats import stratified_sample

    # 60 games: turn 1 and 2, questions 1-10 in "writing", 11-30 in "math" -> strata of 10, 20, 10, 20
    games = [(t, q, "a", "b") for t in (1, 2) for q in range(1, 31)]
    categories = {q: "writing" if q <= 10 else "math" for q in range(1, 31)}
    picked = stratified_sample(games, categories, 12, seed=3)
    per = Counter((g[0], categories[g[1]]) for g in picked)
    assert per == {(1, "writing"): 2, (1, "math"): 4, (2, "writing"): 2, (2, "math"): 4}  # 12 x 10/60, 20/60
    assert picked == stratified_sample(games, categories, 12, seed=3)
    assert picked != stratified_sample(games, categories, 12, seed=4)
    assert stratified_sample(games, categories, 100, seed=0) == sorted(games)
