"""The export's two files, and the push (the only module here that touches ``datasets`` or the Hub)."""

from __future__ import annotations

import datetime
import json
import math
import os
from pathlib import Path
from typing import Any

from mtbench import __version__
from mtbench.core.errors import RunFailed, UserError
from mtbench.core.record_files import load_answers, load_questions
from mtbench.export.config import ExportConfig, ExportResult
from mtbench.show_result import ShowConfig, ShowReport, show
from mtbench.show_result.render import _to_jsonable

SCHEMA = "mtbench-results/1"


def write_text_atomic(path: Path, text: str) -> None:
    """A reader (or an upload) sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def results_json(report: ShowReport) -> dict[str, Any]:
    """The leaderboard form: ``models`` keyed by name, each with its score, CI and breakdowns."""
    full = _to_jsonable(report)
    c = report.config
    models: dict[str, dict[str, Any]] = {}
    if report.single is not None:
        by_category = full.get("by_category") or {}
        for row in full["models"]:
            name = row["model"]
            models[name] = {
                "score": row["overall"], "ci": [row["ci_low"], row["ci_high"]],
                "turns": {"1": row["first_turn"], "2": row["second_turn"]},
                "categories": {cat: scores.get(name) for cat, scores in by_category.items()},
                "n_questions": row["n_questions"], "n_valid": row["n_valid"], "n_failed": row["n_failed"],
                "partial": row["partial"],
            }
    else:
        for row in full["models"]:
            models[row["model"]] = {
                "win_rate": row["win_rate"], "win_rate_adjusted": row["win_rate_adjusted"],
                "ci": [row["win_rate_ci_low"], row["win_rate_ci_high"]],
                "win": row["win"], "loss": row["loss"], "tie": row["tie"], "n_error": row["n_error"],
                "n_questions": row["n_questions"], "partial": row["partial"],
            }
    return {
        "schema": SCHEMA,
        "mtbench_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "bench": c.layout.bench_name,
        "mode": c.mode,
        "baseline": full.get("baseline"),
        "judges": full["judges"],
        "bench_questions": full["bench_questions"],
        "bootstrap": full["bootstrap"],
        "provenance": full.get("provenance"),
        "models": models,
        "notes": full["notes"],
    }


def _answers(layout_dir: Path, models: set[str]) -> dict[str, dict[int, list[str]]]:
    out: dict[str, dict[int, list[str]]] = {}
    for model in sorted(models):
        path = layout_dir / f"{model}.jsonl"
        if path.is_file():
            out[model] = {qid: list(a.choices[0].turns) if a.choices else [] for qid, a in load_answers(path).items()}
    return out


def detail_rows(report: ShowReport, config: ShowConfig) -> list[dict[str, Any]]:
    """One row per judgment (the deduplicated records the tables used, failures included)."""
    from mtbench.core.record_files import load_pair_judgments, load_single_judgments

    questions = {}
    if config.questions.is_file():
        questions = {q.question_id: q for q in load_questions(config.questions)}
    listed = set(config.model_list or ())
    rows: list[dict[str, Any]] = []

    def question(qid: int) -> tuple[str | None, list[str]]:
        q = questions.get(qid)
        return (q.category, list(q.turns)) if q is not None else (None, [])

    if report.single is not None:
        judgments = [j for j in load_single_judgments(config.judgments) if not listed or j.model in listed]
        answers = _answers(config.answers, {j.model for j in judgments})
        for j in judgments:
            category, turns = question(j.question_id)
            rows.append({
                "question_id": j.question_id, "category": category, "turn": j.turn, "question": turns,
                "model": j.model, "answer": answers.get(j.model, {}).get(j.question_id, []),
                "judge": j.judge[0], "judge_prompt_name": j.judge[1], "judge_prompt": j.user_prompt,
                "judge_reply": j.judgment, "score": _num(j.score), "error": j.error,
            })
        return rows
    judgments_p = load_pair_judgments(config.judgments)
    answers = _answers(config.answers, {m for j in judgments_p for m in (j.model_1, j.model_2)})
    for p in judgments_p:
        if listed and not {p.model_1, p.model_2} & listed:
            continue
        category, turns = question(p.question_id)
        rows.append({
            "question_id": p.question_id, "category": category, "turn": p.turn, "question": turns,
            "model_1": p.model_1, "model_2": p.model_2,
            "answer_1": answers.get(p.model_1, {}).get(p.question_id, []),
            "answer_2": answers.get(p.model_2, {}).get(p.question_id, []),
            "judge": p.judge[0], "judge_prompt_name": p.judge[1],
            "g1_judge_prompt": p.g1_user_prompt, "g1_judge_reply": p.g1_judgment, "g1_winner": p.g1_winner,
            "g2_judge_prompt": p.g2_user_prompt, "g2_judge_reply": p.g2_judgment, "g2_winner": p.g2_winner,
        })
    return rows


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise UserError("export's details.parquet needs the datasets package: pip install 'mtbench[hub]' "
                        "(or --no-details)") from None
    return datasets


def dataset_card(results: dict[str, Any], details: bool) -> str:
    configs = "configs:\n- config_name: details\n  data_files: details.parquet\n" if details else ""
    lines = [f"---\n{configs}tags:\n- mt-bench\n- mtbench\n---\n", "# MT-bench results\n",
             f"Exported by mtbench {results['mtbench_version']} ({results['schema']}): bench `{results['bench']}`, "
             f"mode `{results['mode']}`, judge {', '.join(results['judges'])}.\n",
             "`results.json` holds the scores with their confidence intervals and provenance"
             + ("; `details.parquet` one row per judgment." if details else ".")]
    return "\n".join(lines) + "\n"


def export(config: ExportConfig) -> ExportResult:
    """Write results.json (and details.parquet) under ``config.out_dir``; push them when asked."""
    show_config = ShowConfig(
        layout=config.layout, judgment_file=config.judgment_file, judge_model=config.judge_model,
        baseline_model=config.baseline_model, model_list=config.model_list, mode=config.mode,
        n_bootstrap=config.n_bootstrap, seed=config.seed)
    report = show(show_config)
    results = results_json(report)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    write_text_atomic(results_path, json.dumps(results, indent=2, allow_nan=False) + "\n")
    details_path, rows = None, 0
    if config.details:
        datasets = _datasets()
        table = detail_rows(report, show_config)
        rows = len(table)
        details_path = out / "details.parquet"
        tmp = out / "details.parquet.tmp"
        datasets.Dataset.from_list(table).to_parquet(str(tmp))
        os.replace(tmp, details_path)
    url = None
    if config.push_to_hub is not None:
        write_text_atomic(out / "README.md", dataset_card(results, details_path is not None))
        url = push(out, config.push_to_hub, private=not config.public)
    return ExportResult(results_path, details_path, rows, url)


def push(folder: Path, repo: str, *, private: bool) -> str:
    """Create the dataset repo (private unless told) and upload the folder; the token is huggingface_hub's own."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:
        raise UserError("--push-to-hub needs huggingface_hub: pip install 'mtbench[hub]'") from None
    # HF_ENDPOINT read now, not when huggingface_hub was first imported (a mirror, or a test's loopback server).
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                          allow_patterns=["results.json", "details.parquet", "README.md"],
                          commit_message="mtbench export")
    except HfHubHTTPError as e:
        raise RunFailed(f"--push-to-hub {repo}: {str(e).splitlines()[0]}") from None
    return str(url)
