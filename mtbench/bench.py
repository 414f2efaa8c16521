"""Where a benchmark's files live (FastChat's layout), and the facts of MT-bench every command shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mtbench.errors import UserError

# MT-bench's eight categories, in question-id order (writing 81-90 ... humanities 151-160).
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")

# Categories judged against a reference answer (FastChat's NEED_REF_CATS).
NEED_REF_CATEGORIES = frozenset({"math", "reasoning", "coding", "arena-hard-200"})

# FastChat's temperature_config: sampling temperature per category; any other category gets 0.7.
TEMPERATURE_BY_CATEGORY = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
DEFAULT_TEMPERATURE = 0.7

DEFAULT_DATA_DIR = Path("data")
DEFAULT_BENCH = "mt_bench"
REFERENCE_SETS = ("gpt-4", "gpt-4-0125-preview")  # the shipped reference-answer files


def category_temperature(category: str) -> float:
    return TEMPERATURE_BY_CATEGORY.get(category, DEFAULT_TEMPERATURE)


@dataclass(frozen=True)
class BenchLayout:
    """Paths of one benchmark under a data dir, exactly as FastChat lays them out.

    A model's identity is its answer file's stem, never the ``model_id`` inside the records (the
    official files disagree with their names, e.g. vicuna-13b-v1.3.jsonl says vicuna-13b-hao-0515).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    bench_name: str = DEFAULT_BENCH

    @property
    def bench_dir(self) -> Path:
        return self.data_dir / self.bench_name

    @property
    def judge_prompts_file(self) -> Path:
        return self.data_dir / "judge_prompts.jsonl"

    @property
    def question_file(self) -> Path:
        return self.bench_dir / "question.jsonl"

    @property
    def reference_dir(self) -> Path:
        return self.bench_dir / "reference_answer"

    def reference_file(self, name: str) -> Path:
        return self.reference_dir / f"{name}.jsonl"

    @property
    def answer_dir(self) -> Path:
        return self.bench_dir / "model_answer"

    def answer_file(self, model_id: str) -> Path:
        _check_name(model_id, "model id")
        return self.answer_dir / f"{model_id}.jsonl"

    @property
    def judgment_dir(self) -> Path:
        return self.bench_dir / "model_judgment"

    def single_judgment_file(self, judge_model: str) -> Path:
        _check_name(judge_model, "judge model")
        return self.judgment_dir / f"{judge_model}_single.jsonl"

    def pair_judgment_file(self, judge_model: str) -> Path:
        _check_name(judge_model, "judge model")
        return self.judgment_dir / f"{judge_model}_pair.jsonl"

    def judgment_file(self, judge_model: str, mode: str) -> Path:
        """``single`` -> JUDGE_single.jsonl; both pairwise modes share JUDGE_pair.jsonl, as in FastChat."""
        if mode == "single":
            return self.single_judgment_file(judge_model)
        return self.pair_judgment_file(judge_model)

    def model_ids(self) -> list[str]:
        """Every model with an answer file, sorted (FastChat's default --model-list)."""
        if not self.answer_dir.is_dir():
            return []
        return sorted(p.stem for p in self.answer_dir.glob("*.jsonl"))


def _check_name(name: str, what: str) -> None:
    # A name becomes a file name: a slash would silently write outside the bench folder.
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UserError(f"{what} {name!r} cannot be used as a file name (no slashes, not empty)")
