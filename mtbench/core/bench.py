"""Where a benchmark's files live (FastChat's layout), and the facts of MT-bench every command shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.core.errors import UserError
from mtbench.core.manifest import Manifest, load_manifest
from mtbench.core.options import option

if TYPE_CHECKING:
    from mtbench.core.records import Question

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

# FastChat's defaults: the judge, the pairwise-baseline opponent, and the reference set read by
# reference-guided prompts (FastChat names it after the judge; here it is its own choice).
DEFAULT_JUDGE_MODEL = "gpt-4"
DEFAULT_BASELINE_MODEL = "gpt-3.5-turbo"
DEFAULT_REFERENCE = "gpt-4"


class Mode(str, Enum):
    """How answers are judged. Both pairwise modes write and read JUDGE_pair.jsonl, as in FastChat."""

    SINGLE = "single"
    PAIRWISE_BASELINE = "pairwise-baseline"
    PAIRWISE_ALL = "pairwise-all"

    def __str__(self) -> str:
        return self.value

    @property
    def kind(self) -> str:
        """The judgment-file kind, and the prompt family: ``single`` or ``pair``."""
        return "single" if self is Mode.SINGLE else "pair"

    @property
    def pairwise(self) -> bool:
        return self is not Mode.SINGLE

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """A mode from its name, or one line naming the choices."""
        try:
            return cls(value)
        except ValueError:
            raise UserError(f"--mode must be one of {', '.join(MODES)}; got {value!r}") from None


MODES = tuple(m.value for m in Mode)  # for argparse choices

# How show and agreement print their tables.
FORMATS = ("table", "markdown", "csv", "json")


# A question that carries golden answers (MT-Bench-101's dataset ``bot`` turns) under this key is
# answered turn by turn on them: the history before turn n is the golden answers 1..n-1.
GOLDEN_KEY = "golden_answers"


def history_answers(question: Question, own: Sequence[str]) -> list[str]:
    """The assistant turns sent before the next user turn: the model's own answers so far (MT-bench), or
    as many of the question's golden answers (MT-Bench-101), never the model's own."""
    golden = question.extra.get(GOLDEN_KEY)
    if golden is None:
        return list(own)
    return list(golden[: len(own)])


def category_temperature(category: str) -> float:
    """MT-bench's temperature of a category (FastChat's table); other benches: ``Manifest.temperature``."""
    return TEMPERATURE_BY_CATEGORY.get(category, DEFAULT_TEMPERATURE)


def question_temperature(
    question: Question, force_temperature: float | None = None, manifest: Manifest | None = None
) -> float:
    """The sampling temperature of a question, the same for every answer engine.

    FastChat's precedence: --force-temperature, the question's required_temperature, its category's in
    the bench's manifest (MT-bench's table without one), 0.7. Where FastChat asserts that force and
    required are not both set, the user's explicit flag wins.
    """
    if force_temperature is not None:
        return force_temperature
    if question.required_temperature is not None:
        return question.required_temperature
    if manifest is not None:
        return manifest.temperature(question.category)
    return category_temperature(question.category)


def judge_file_stem(judge_model: str) -> str:
    """The judge's name in its judgment file's name: the one mapping every command uses.

    FastChat uses the name as is; a served name such as ``meta-llama/Llama-3.1-70B-Instruct`` or a
    local path (how ``transformers serve`` names a model) would put the file in a sub-folder, so each
    '/' becomes '__' (the records keep the real name in ``judge``).
    """
    return judge_model.replace("/", "__").replace("\\", "__")


def per_category_option() -> Any:
    """--per-category (gen-answer, gen-api-answer, judge, run): one meaning in every command."""
    return option(None, metavar="N", aliases=("--per-task",),
                  help="only the first N questions of each category (after the slice or --first-n): a quick look "
                  "at every category (MT-Bench-101: the first N dialogues of each of its 13 tasks)")


def question_begin_option() -> Any:
    return option(None, metavar="I", help="slice start over the questions in file order (Python slice)")


def question_end_option() -> Any:
    return option(None, metavar="I", help="slice end over the questions in file order")


@dataclass(frozen=True)
class BenchLayout:
    """Paths of one benchmark under a data dir, exactly as FastChat lays them out.

    A model's identity is its answer file's stem, never the ``model_id`` inside the records (the
    official files disagree with their names, e.g. vicuna-13b-v1.3.jsonl says vicuna-13b-hao-0515).
    """

    data_dir: Path = option(DEFAULT_DATA_DIR, help="folder holding judge_prompts.jsonl and BENCH/",
                            default_help="./data, as FastChat")
    bench_name: str = option(DEFAULT_BENCH, help="benchmark folder name: mt_bench, vicuna_bench, japanese_mt_bench, "
                             "or a folder of your own holding question.jsonl (see docs/reference/benchmarks.md)")
    questions: str | None = option(None, metavar="FILE", help="question file in the bench folder",
                                   default_help="the bench manifest's (question.jsonl)")

    @property
    def bench_dir(self) -> Path:
        return self.data_dir / self.bench_name

    @property
    def manifest(self) -> Manifest:
        """The bench's description of itself (``mtbench.core.manifest``): read once per file, cached."""
        return load_manifest(self.bench_dir, self.bench_name)

    @property
    def judge_prompts_file(self) -> Path:
        return self.data_dir / self.manifest.judge_prompts

    @property
    def question_file(self) -> Path:
        return self.bench_dir / (self.questions or self.manifest.question_file)

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

    def judgment_file(self, judge_model: str, mode: Mode | str) -> Path:
        """The judge's file for a mode: JUDGE_single.jsonl, or JUDGE_pair.jsonl for both pairwise modes.

        ``judge_model`` is the judge's name as the records hold it (a served name or path is mapped by
        ``judge_file_stem``).
        """
        stem = judge_file_stem(judge_model)
        _check_name(stem, "judge model")
        return self.judgment_dir / f"{stem}_{Mode.parse(mode).kind}.jsonl"

    def single_judgment_file(self, judge_model: str) -> Path:
        return self.judgment_file(judge_model, Mode.SINGLE)

    def pair_judgment_file(self, judge_model: str) -> Path:
        return self.judgment_file(judge_model, Mode.PAIRWISE_ALL)

    def model_ids(self) -> list[str]:
        """Every model with an answer file, sorted (FastChat's default --model-list)."""
        if not self.answer_dir.is_dir():
            return []
        return sorted(p.stem for p in self.answer_dir.glob("*.jsonl"))


def _check_name(name: str, what: str) -> None:
    # A name becomes a file name: a slash would silently write outside the bench folder.
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UserError(f"{what} {name!r} cannot be used as a file name (no slashes, not empty)")
