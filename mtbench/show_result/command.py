"""The `show` command's library function: a frozen config in, the mode's tables out (reads two files)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from mtbench.core.bench import (
    DEFAULT_BASELINE_MODEL,
    DEFAULT_BENCH,
    DEFAULT_JUDGE_MODEL,
    FORMATS,
    MODES,
    BenchLayout,
    Mode,
)
from mtbench.core.errors import UserError
from mtbench.core.jury_file import jury_names
from mtbench.core.language import PENALTIES
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.core.record_files import load_pair_judgments, load_single_judgments
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.integrations.trackers import TrackerConfig
from mtbench.show_result.categories import judged_categories, question_categories
from mtbench.show_result.compare import PairedComparison, paired_comparison
from mtbench.show_result.control import CONTROLS
from mtbench.show_result.controlled import check_control, controlled_pairwise, controlled_single
from mtbench.show_result.coverage import coverage_notes, recorded_judges
from mtbench.show_result.failures import failure_warning
from mtbench.show_result.forced import FORCED_COLUMN, forced_note, is_forced
from mtbench.show_result.jury import JuryTables, pairwise_jury, single_jury
from mtbench.show_result.language import apply_language, language_note
from mtbench.show_result.pairwise import PairwiseTable, pairwise_table
from mtbench.show_result.provenance import TableProvenance, check_mixed, table_provenance
from mtbench.show_result.reasoning_cuts import reasoning_cut_notes, turns_cut_while_reasoning
from mtbench.show_result.samples import AGGREGATES, DEFAULT_AGGREGATE, check_aggregate
from mtbench.show_result.scores import SingleTables, single_tables
from mtbench.show_result.selection import require_models
from mtbench.show_result.stats import DEFAULT_BOOTSTRAP, DEFAULT_CONFIDENCE, DEFAULT_SEED
from mtbench.show_result.style import AnswerStyles, load_answer_styles


def bootstrap_option() -> Any:
    return option(DEFAULT_BOOTSTRAP, flag="--bootstrap", metavar="N",
                  help="bootstrap resamples for the confidence intervals; 0 turns them off")


def control_option() -> Any:
    """--control (show, report, browse): one meaning everywhere."""
    return option(
        None, choices=CONTROLS, help="put a length- (or length-and-markdown-) controlled number beside the raw one: "
        "single, the score adjusted by a regression on answer length with a term per model; pairwise-baseline, "
        "AlpacaEval's length-controlled win rate; pairwise-all, Bradley-Terry with style covariates as "
        "arena-hard-auto. Reads the answers in BENCH/model_answer; needs at least two models")


def check_bootstrap(n_bootstrap: int) -> None:
    check(n_bootstrap >= 0, f"{{n_bootstrap}} must be 0 or more, got {n_bootstrap}")


@dataclass(frozen=True)
class ShowConfig:
    """What ``show`` reads, computes and prints; checks its own options once (one-line ConfigError).

    The files default to the layout's: the judge's file for the mode, BENCH/question.jsonl (read when it
    exists, for categories and the bench's question count) and BENCH/model_answer (to count turns cut
    while reasoning).
    """

    layout: BenchLayout = nested(default_factory=BenchLayout)
    judgment_file: Path | None = option(
        None, flag="--input-file", metavar="INPUT_FILE",
        help="judgment file; the report names the judges its records hold",
        default_help="BENCH/model_judgment/JUDGE_single.jsonl; JUDGE_pair.jsonl in the pairwise modes")
    judge_models: tuple[str, ...] = option(
        (), flag="--judge-model", metavar="JUDGE", help="judge whose file to read, named as for `mtbench judge` (a "
        "served name or a path such as /models/x maps to its file name the same way); several: a jury's table",
        default_help=DEFAULT_JUDGE_MODEL)
    jury_file: Path | None = option(None, flag="--jury", metavar="FILE",
                                    help="the jury file a `mtbench judge --jury` run judged with: its judges' table")
    baseline_model: str | None = option(DEFAULT_BASELINE_MODEL, help="the baseline in --mode pairwise-baseline")
    model_list: tuple[str, ...] | None = option(None, metavar="MODEL", help="only these models",
                                                default_help="all judged")
    mode: str = option(Mode.SINGLE.value, choices=MODES, help="which judgments to show")
    compare: tuple[str, ...] | None = option(
        None, metavar=("A", "B"), help="paired bootstrap of A's score minus B's over the questions both have "
        "(single mode)")
    n_bootstrap: int = bootstrap_option()
    seed: int = option(DEFAULT_SEED, help="bootstrap seed: same seed, same intervals")
    aggregate: str = option(
        DEFAULT_AGGREGATE, choices=AGGREGATES, help="how the samples of a match judged several times (judge "
        "--judge-samples) become one score")
    allow_mixed: bool = option(
        False, help="show a table whose judgments come from different judge snapshots, judge prompt files or "
        "reference sets (refused by default, exit 2: such scores do not compare); the table then carries a warning")
    format: str = option("table", choices=FORMATS, help="output format")
    plot: Path | None = option(None, metavar="FILE.png", help="write the per-category radar chart (single mode)")
    control: str | None = control_option()
    language_penalty: str = option(
        "none", choices=PENALTIES, help="a bench with a language: a judged turn identified as another language "
        "scores 1 (zero, as the Finnish MT-Bench) or the square root of its score (sqrt, as KoMT-Bench); none keeps "
        "the judge's score, comparable with the fork's")
    tracking: TrackerConfig = nested(default_factory=TrackerConfig, group="experiment trackers",
                                     group_help="log the result to W&B, MLflow, TensorBoard or trackio")
    question_file: Path | None = None  # None: the layout's
    answer_dir: Path | None = None  # None: the layout's
    confidence: float = DEFAULT_CONFIDENCE
    judge_model: str = DEFAULT_JUDGE_MODEL  # the one judge (--judge-model's one name); a jury's first

    def __post_init__(self) -> None:
        self._take_judge_names()
        check_aggregate(self.aggregate)
        check_bootstrap(self.n_bootstrap)
        check_control(self.control)
        mode = Mode.parse(self.mode)
        object.__setattr__(self, "mode", mode.value)
        check(self.format in FORMATS, f"{{format}} must be one of {', '.join(FORMATS)}; got {self.format!r}")
        check(self.compare is None or len(self.compare) == 2, "{compare} takes two models, A and B")
        check(self.compare is None or mode is Mode.SINGLE,
              "{compare} works with {mode} single (a paired test of two models' scores)")
        check(self.compare is None or self.compare[0] != self.compare[-1],
              f"{{compare}} {' '.join(self.compare or ())}: a model against itself; give two different models")
        check(mode is not Mode.PAIRWISE_BASELINE or bool(self.baseline_model),
              "{mode} pairwise-baseline needs {baseline_model}")
        check(self.plot is None or mode is Mode.SINGLE, "{plot} draws the per-category radar chart of {mode} single")
        check(self.language_penalty in PENALTIES, f"{{language_penalty}} must be one of {', '.join(PENALTIES)}")
        check(self.language_penalty == "none" or mode is Mode.SINGLE,
              "{language_penalty} applies to single scores ({mode} single)")

    def _take_judge_names(self) -> None:
        names = tuple(dict.fromkeys(self.judge_models))
        check(not (names and self.jury_file is not None),
              "{judge_models} and {jury_file} both name the judges; give one of them")
        if self.jury_file is not None:  # the file's judges become the names (a copy by ``replace`` keeps them)
            names = jury_names(self.jury_file)
            object.__setattr__(self, "jury_file", None)
        if len(names) == 1:
            object.__setattr__(self, "judge_model", names[0])
            names = ()
        object.__setattr__(self, "judge_models", names)
        if names:
            object.__setattr__(self, "judge_model", names[0])
            check(self.judgment_file is None, "{judgment_file} is one judge's file; a jury reads each judge's own")
            check(not self.tracking.log_to, "{tracking.log_to} logs one judge's table; a jury's is not logged yet")
            for name, given in (("compare", self.compare), ("plot", self.plot), ("control", self.control)):
                check(given is None, f"{{{name}}} is for one judge's table; give one {{judge_models}}")

    @property
    def jury(self) -> tuple[str, ...]:
        """The jury's judges (none for one judge)."""
        return self.judge_models

    @property
    def judgments(self) -> Path:
        """The judgment file read: the one given, else the judge's file for the mode in the layout."""
        return self.judgment_file or self.layout.judgment_file(self.judge_model, self.mode)

    @property
    def questions(self) -> Path:
        return self.question_file or self.layout.question_file

    @property
    def answers(self) -> Path:
        return self.answer_dir or self.layout.answer_dir

    @property
    def mt_bench_fallback(self) -> bool:
        """Without a question file, MT-bench's fixed id blocks give the categories (mt_bench only)."""
        return self.layout.bench_name == DEFAULT_BENCH


@dataclass(frozen=True)
class ShowReport:
    config: ShowConfig
    single: SingleTables | None = None
    pairwise: PairwiseTable | None = None
    comparison: PairedComparison | None = None
    category_source: str | None = None  # where categories came from, or None when unavailable
    notes: tuple[str, ...] = ()
    judges: tuple[str, ...] = ()  # the judge models recorded in the judgment file, sorted
    bench_questions: int | None = None  # questions in the question file, when it was read
    provenance: TableProvenance | None = None  # what produced the table's judgments
    turns_cut_while_reasoning: Mapping[str, int] | None = None  # per model with an answer file, when read
    jury: JuryTables | None = None  # several judges (--judge-model A B C, --jury): the jury's table
    warning: str | None = None  # shown above the tables: the judge failed on too many matches (``failure_warning``)


def _judge_command(mode: str, judge_model: str) -> str:
    return f"mtbench judge --mode {mode} --judge-model {judge_model}"


def show(config: ShowConfig) -> ShowReport:
    """Read the judgment file (and question file) named in ``config`` and compute the mode's tables."""
    if config.jury:
        return _show_jury(config)
    path = config.judgments
    if not path.is_file():
        raise ConfigError(
            f"no judgment file at {path}; create it with `{_judge_command(config.mode, config.judge_model)}` "
            "(or name one with {judgment_file})"
        )
    notes: list[str] = []
    by_id = question_categories(config.questions)
    bench_questions = None if by_id is None else len(by_id)

    if config.mode == Mode.SINGLE:
        judgments = _load(load_single_judgments, path)
        require_models(config.model_list, {j.model for j in judgments}, str(path))
        if config.compare:
            require_models(list(config.compare), {j.model for j in judgments}, f"{path} (--compare)")
        provenance = _provenance(config, [j for j in judgments if _listed(config, j.model)], notes)
        judgments = _answer_language(config, judgments, notes)
        categories, source = judged_categories(config.questions, by_id, {j.question_id for j in judgments}, notes,
                                               mt_bench_fallback=config.mt_bench_fallback)
        single = single_tables(
            judgments, categories=categories, model_list=config.model_list,
            n_bootstrap=config.n_bootstrap, seed=config.seed, confidence=config.confidence,
            bench_questions=bench_questions, aggregate=config.aggregate,
        )
        comparison = None
        if config.compare:
            comparison = paired_comparison(
                judgments, *config.compare, n_bootstrap=config.n_bootstrap, seed=config.seed,
                confidence=config.confidence, aggregate=config.aggregate,
            )
        if single.duplicates_dropped:
            notes.append(
                f"{single.duplicates_dropped} duplicate judgment(s) dropped: the same (question, model, judge, turn) "
                "appeared again (a rerun appended it); the last one counts"
            )
        if single.failed:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(single.failure_reasons.items()))
            notes.append(f"{single.failed} failed judgment(s) left out of the means ({why}); see n_failed")
        if single.failed_samples:
            notes.append(
                f"{single.failed_samples} failed sample(s) left out of their match's {config.aggregate} "
                "(the match's other samples scored it)"
            )
        if FORCED_COLUMN in single.scores.columns:
            notes.append(forced_note(int(single.scores[FORCED_COLUMN].sum()), pairwise=False))
        notes.extend(coverage_notes(single.scores, bench_questions))
        cuts = _reasoning_cuts(config, single.scores.index, notes)
        if config.control:
            control = controlled_single(
                judgments, _styles(config, single.scores.index), config.control, config.model_list,
                config.n_bootstrap, config.seed, config.confidence, config.aggregate,
            )
            single = replace(single, scores=single.scores.join(control.table))
            notes.append(control.note)
        judges = recorded_judges(judgments)
        return ShowReport(
            config, single=single, comparison=comparison, category_source=source, notes=tuple(notes),
            judges=judges, bench_questions=bench_questions, provenance=provenance,
            turns_cut_while_reasoning=cuts,
            warning=failure_warning(single.failed, single.failed + int(single.scores["n_valid"].sum()),
                                    ", ".join(judges) or config.judge_model),
        )

    pair_judgments = _load(load_pair_judgments, path)
    baseline = config.baseline_model if config.mode == Mode.PAIRWISE_BASELINE else None
    if baseline is not None and not any(baseline in (j.model_1, j.model_2) for j in pair_judgments):
        raise ConfigError(
            f"no matches against the baseline {baseline!r} in {path}; pick one with {{baseline_model}} "
            f"or create them with `{_judge_command('pairwise-baseline', config.judge_model)}`"
        )
    present = {m for j in pair_judgments for m in (j.model_1, j.model_2)} - ({baseline} if baseline else set())
    where = f"{path}" + (f" against {baseline}" if baseline else "")
    listed = [m for m in config.model_list or () if m != baseline]
    require_models(listed, present, where)
    provenance = _provenance(config, [
        j for j in pair_judgments
        if (baseline is None or baseline in (j.model_1, j.model_2))
        and all(_listed(config, m) for m in (j.model_1, j.model_2) if m != baseline)
    ], notes)
    pair = pairwise_table(
        pair_judgments, baseline=baseline, model_list=config.model_list,
        n_bootstrap=config.n_bootstrap, seed=config.seed, confidence=config.confidence,
        bench_questions=bench_questions,
    )
    if pair.duplicates_dropped:
        notes.append(
            f"{pair.duplicates_dropped} duplicate match(es) dropped: the same (question, model pair, judge, turn) "
            "appeared again (a rerun appended it); the last one counts"
        )
    if pair.errors:
        notes.append(f"{pair.errors} match(es) with an error game left out of the counts; see n_error")
    if FORCED_COLUMN in pair.table.columns:
        forced = sum(is_forced(j) and not j.failed for j in pair_judgments)
        notes.append(forced_note(forced, pairwise=True))
    notes.extend(coverage_notes(pair.table, bench_questions))
    shown = [*pair.table.index, *([baseline] if baseline else [])]
    cuts = _reasoning_cuts(config, shown, notes)
    if config.control:
        control = controlled_pairwise(
            pair_judgments, _styles(config, shown), config.control, baseline, config.model_list,
            config.n_bootstrap, config.seed, config.confidence,
        )
        pair = replace(pair, table=pair.table.join(control.table))
        notes.append(control.note)
    judges = recorded_judges(pair_judgments)
    return ShowReport(
        config, pairwise=pair, notes=tuple(notes), judges=judges,
        bench_questions=bench_questions, provenance=provenance, turns_cut_while_reasoning=cuts,
        warning=failure_warning(pair.errors, pair.errors + pair.matches, ", ".join(judges) or config.judge_model),
    )


def _show_jury(config: ShowConfig) -> ShowReport:
    """A jury's table: each judge's own file, lined up by match (``jury``)."""
    mode = Mode.parse(config.mode)
    paths = {name: config.layout.judgment_file(name, mode) for name in config.jury}
    for name, path in paths.items():
        if not path.is_file():
            raise ConfigError(f"no judgment file for the jury's judge {name} at {path}; create it with "
                              f"`{_judge_command(config.mode, ' '.join(config.jury))}` (or the jury file)")
    by_id = question_categories(config.questions)
    bench = None if by_id is None else len(by_id)
    notes: list[str] = []
    if mode is Mode.SINGLE:
        singles = {name: _load(load_single_judgments, path) for name, path in paths.items()}
        require_models(config.model_list, {j.model for js in singles.values() for j in js}, "the jury's files")
        tables = single_jury(singles, model_list=config.model_list, n_bootstrap=config.n_bootstrap,
                             seed=config.seed, confidence=config.confidence, aggregate=config.aggregate,
                             bench_questions=bench)
        judges = recorded_judges([j for js in singles.values() for j in js])
    else:
        pairs = {name: _load(load_pair_judgments, path) for name, path in paths.items()}
        baseline = config.baseline_model if mode is Mode.PAIRWISE_BASELINE else None
        tables = pairwise_jury(pairs, baseline=baseline, model_list=config.model_list,
                               n_bootstrap=config.n_bootstrap, seed=config.seed, confidence=config.confidence,
                               bench_questions=bench)
        judges = recorded_judges([j for js in pairs.values() for j in js])
    failed = {name: n for name, n in tables.judge_failed.items() if n}
    if failed:
        notes.append("a judge's failed or missing judgment is left out of that match's "
                     + ("mean" if mode is Mode.SINGLE else "vote") + ": "
                     + ", ".join(f"{name} {n}" for name, n in failed.items()) + " (see judge_failed)")
    notes.extend(coverage_notes(tables.table, bench))
    return ShowReport(config, notes=tuple(notes), judges=judges, bench_questions=bench, jury=tables)


def _styles(config: ShowConfig, models: Iterable[str]) -> AnswerStyles:
    return load_answer_styles(config.answers, models)


def _listed(config: ShowConfig, model: str) -> bool:
    return not config.model_list or model in config.model_list


def _provenance(
    config: ShowConfig, judgments: list[SingleJudgment] | list[PairJudgment], notes: list[str]
) -> TableProvenance:
    """The table's provenance; a mix of sources refused (UserError) or, with --allow-mixed, the first note."""
    provenance = table_provenance(judgments)
    warning = check_mixed(provenance, str(config.judgments), allow_mixed=config.allow_mixed)
    if warning:
        notes.insert(0, warning)
    return provenance


def _reasoning_cuts(config: ShowConfig, models: Iterable[str], notes: list[str]) -> dict[str, int]:
    cuts = turns_cut_while_reasoning(config.answers, models)
    notes.extend(reasoning_cut_notes(cuts))
    return cuts


L = TypeVar("L", SingleJudgment, PairJudgment)


def _answer_language(config: ShowConfig, judgments: list[SingleJudgment], notes: list[str]) -> list[SingleJudgment]:
    """A bench with a language: each model's wrong-language share as a note, and --language-penalty applied."""
    expected = config.layout.manifest.language
    if expected is None:
        if config.language_penalty != "none":
            raise ConfigError(f"{{language_penalty}}: the {config.layout.bench_name} bench names no language")
        return judgments
    judgments, counts = apply_language(judgments, expected, config.language_penalty, config.answers)
    notes.append(language_note(expected, config.language_penalty, counts))
    return judgments


def _load(loader: Callable[[Path], list[L]], path: Path) -> list[L]:
    records = loader(path)
    if not records:
        raise UserError(f"{path}: no judgments in the file (it is empty)")
    return records
