"""The `bias` command's library function: a frozen config in, the judge's measured leanings out.

Reads the judgment file (through the loaders and selection ``show`` uses), the answers the judge saw (for
length and markdown), and with ``--self`` a second judge's file of the same kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtbench.core.bench import DEFAULT_JUDGE_MODEL, FORMATS, MODES, BenchLayout, Mode
from mtbench.core.errors import UserError
from mtbench.core.options import check, nested, option
from mtbench.core.record_files import load_pair_judgments, load_single_judgments
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.show_result.bias import NAN_RATE, Games, Rate, pair_games, pairwise_bias
from mtbench.show_result.bias_single import (
    Points,
    Quartile,
    length_quartiles,
    points_from,
    self_preference,
    spearman_rate,
    within_group,
)
from mtbench.show_result.control import fit_single, single_features
from mtbench.show_result.coverage import recorded_judges
from mtbench.show_result.pairwise import match_outcome
from mtbench.show_result.samples import DEFAULT_AGGREGATE, aggregate_single
from mtbench.show_result.selection import dedupe_pairs, dedupe_single, require_models
from mtbench.show_result.stats import DEFAULT_BOOTSTRAP, DEFAULT_CONFIDENCE, DEFAULT_SEED, bootstrap_weights
from mtbench.show_result.style import LENGTH_UNIT, AnswerStyle, AnswerStyles, load_answer_styles


@dataclass(frozen=True)
class BiasConfig:
    """What ``mtbench bias`` reads and measures; checks its own options once (one-line ConfigError)."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    input_file: Path | None = option(None, help="judgment file", default_help="BENCH/model_judgment/JUDGE_MODE.jsonl")
    judge_model: str = option(DEFAULT_JUDGE_MODEL, help="judge whose file to read, named as for `mtbench judge`")
    # Both pairwise modes read the whole pair file: every match shows the judge's leanings.
    mode: str = option(Mode.SINGLE.value, choices=MODES,
                       help="single reads JUDGE_single.jsonl; both pairwise modes read all of JUDGE_pair.jsonl")
    model_list: tuple[str, ...] | None = option(None, metavar="MODEL", help="only these models (a match: both listed)")
    self_models: tuple[str, ...] = option(
        (), flag="--self", metavar="MODEL",
        help="the models of the judge's own family, for self-preference (needs --reference-judge)")
    reference_judge: str | None = option(
        None, metavar="NAME_OR_FILE", help="the second judge self-preference is measured against: a judge name "
        "(its file in BENCH/model_judgment) or a judgment file of the same mode")
    n_bootstrap: int = option(DEFAULT_BOOTSTRAP, flag="--bootstrap", metavar="N",
                              help="bootstrap resamples of the questions for the CIs; 0 turns them off")
    seed: int = option(DEFAULT_SEED, help="bootstrap seed")
    format: str = option("table", choices=FORMATS, help="output format")
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode).value)
        check(self.n_bootstrap >= 0, f"{{n_bootstrap}} must be 0 or more, got {self.n_bootstrap}")
        check(not self.self_models or self.reference_judge is not None,
              "{self_models} needs {reference_judge}: self-preference is measured against a second judge")

    @property
    def judgment_file(self) -> Path:
        return self.input_file or self.layout.judgment_file(self.judge_model, self.mode)

    @property
    def answer_dir(self) -> Path:
        """The answers the judge saw: model_answer/MODEL.jsonl."""
        return self.layout.answer_dir

    @property
    def reference_file(self) -> Path | None:
        if self.reference_judge is None:
            return None
        given = Path(self.reference_judge)
        return given if given.is_file() else self.layout.judgment_file(self.reference_judge, self.mode)


@dataclass(frozen=True)
class BiasReport:
    config: BiasConfig
    kind: str  # "single" or "pair"
    overall: Mapping[str, Rate]
    models: Mapping[str, Mapping[str, Rate]]
    quartiles: Sequence[Quartile] = ()
    judges: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    length_unit: str = LENGTH_UNIT


def bias(config: BiasConfig) -> BiasReport:
    path = config.judgment_file
    if not path.is_file():
        raise UserError(f"no judgment file at {path}; name one with --input-file or --judge-model")
    pairwise = Mode(config.mode).pairwise
    notes: list[str] = []
    if pairwise:
        judgments: list = _selected_pairs(load_pair_judgments(path), config, str(path))
        models = sorted({m for j in judgments for m in (j.model_1, j.model_2)})
    else:
        judgments = _selected_single(load_single_judgments(path), config, str(path))
        models = sorted({j.model for j in judgments})
    unknown = [m for m in config.self_models if m not in models]
    if unknown:
        raise UserError(f"--self: no judgments for {', '.join(unknown)} in {path} (judged models: {', '.join(models)})")
    styles = load_answer_styles(config.answer_dir, models)
    if pairwise:
        overall, per_model, quartiles = _pairwise(judgments, styles, config, notes)
    else:
        overall, per_model, quartiles = _single(judgments, styles, config, models, notes)
    if config.self_models:
        assert config.reference_file is not None
        this = _points(judgments, pairwise)
        ref = _points(_load_reference(config, pairwise), pairwise)
        total, by_model = self_preference(this, ref, config.self_models, lambda n: _weights(config, n), config.confidence)
        missing = sorted(set(models) - set(by_model))
        if missing:
            notes.append(f"self-preference leaves out {', '.join(missing)}: not judged in {config.reference_file}")
        overall["self_preference"] = total
        for m in models:
            per_model[m]["self_preference"] = by_model.get(m, NAN_RATE)
    return BiasReport(config, "pair" if pairwise else "single", overall, per_model, quartiles,
                      recorded_judges(judgments), tuple(notes))


def _weights(config: BiasConfig, n_questions: int) -> np.ndarray:
    return bootstrap_weights(n_questions, config.n_bootstrap, config.seed)


def _listed(config: BiasConfig, *models: str) -> bool:
    return not config.model_list or all(m in config.model_list for m in models)


def _selected_pairs(records: list[PairJudgment], config: BiasConfig, where: str) -> list[PairJudgment]:
    if not records:
        raise UserError(f"{where}: no judgments in the file (it is empty)")
    require_models(config.model_list, {m for j in records for m in (j.model_1, j.model_2)}, where)
    kept, _ = dedupe_pairs(j for j in records if _listed(config, j.model_1, j.model_2))
    return kept


def _selected_single(records: list[SingleJudgment], config: BiasConfig, where: str) -> list[SingleJudgment]:
    if not records:
        raise UserError(f"{where}: no judgments in the file (it is empty)")
    require_models(config.model_list, {j.model for j in records}, where)
    kept, _ = dedupe_single(j for j in records if _listed(config, j.model))
    return aggregate_single(kept, DEFAULT_AGGREGATE)


def _pairwise(
    judgments: list[PairJudgment], styles: AnswerStyles, config: BiasConfig, notes: list[str]
) -> tuple[dict[str, Rate], dict[str, dict[str, Rate]], list[Quartile]]:
    games: Games = pair_games(judgments, styles)
    if not (~games.tie).any():
        raise UserError(f"{config.judgment_file}: no decided games (every counted game is a tie or an error)")
    weights = _weights(config, len(games.questions))
    errors = sum(j.failed for j in judgments)
    if errors:
        notes.append(f"{errors} match(es) with an error game left out")
    unknown = sum(styles.get(m, j.question_id, j.turn) is None for j in judgments for m in (j.model_1, j.model_2))
    if unknown:
        notes.append(f"{unknown} judged answer(s) not in the answer files: left out of the length and markdown rates")
    overall = pairwise_bias(games, weights, confidence=config.confidence)
    per_model = {m: pairwise_bias(games, weights, m, config.confidence) for m in games.models}
    return overall, per_model, []


def _single(
    judgments: list[SingleJudgment], styles: AnswerStyles, config: BiasConfig, models: list[str], notes: list[str]
) -> tuple[dict[str, Rate], dict[str, dict[str, Rate]], list[Quartile]]:
    looked_up = [(j, styles.get(j.model, j.question_id, j.turn)) for j in judgments if j.score is not None]
    rows: list[tuple[SingleJudgment, AnswerStyle]] = [(j, s) for j, s in looked_up if s is not None]
    if len(looked_up) > len(rows):
        notes.append(f"{len(looked_up) - len(rows)} scored answer(s) not in the answer files: left out")
    if len(rows) < 3:
        raise UserError(f"{config.judgment_file}: fewer than 3 scored answers with a known length; nothing to correlate")
    qids = sorted({j.question_id for j, _ in rows})
    q_index = {q: i for i, q in enumerate(qids)}
    m_index = {m: i for i, m in enumerate(models)}
    question = np.array([q_index[j.question_id] for j, _ in rows], dtype=np.int64)
    model = np.array([m_index[j.model] for j, _ in rows], dtype=np.int64)
    score = np.array([float(j.score) for j, _ in rows])  # type: ignore[arg-type]
    length = np.array([s.length for _, s in rows], dtype=np.float64)
    log_length = np.array([s.log2_length for _, s in rows])
    items = {key: i for i, key in enumerate(sorted({(j.question_id, j.turn) for j, _ in rows}))}
    group = np.array([items[(j.question_id, j.turn)] for j, _ in rows], dtype=np.int64)
    score_c, paired = within_group(score, group)
    length_c, _ = within_group(log_length, group)
    weights = _weights(config, len(qids))
    conf = config.confidence

    def stats(mask: np.ndarray, fit_models: list[str]) -> dict[str, Rate]:
        sub_model = np.searchsorted([m_index[m] for m in fit_models], model[mask])
        features, names = single_features([s for (_, s), keep in zip(rows, mask, strict=True) if keep], "length")
        # One model alone: its slope across questions (with question terms one answer per question would
        # leave nothing to fit); all models: the within-question slope of show --control.
        fit = fit_single(sub_model, question[mask], score[mask], features, names, fit_models, weights, conf,
                         question_effects=len(fit_models) > 1)
        within = mask & paired
        return {
            "score_length_spearman": spearman_rate(score[mask], length[mask], question[mask], weights, conf),
            "score_length_spearman_within_question": spearman_rate(
                score_c[within], length_c[within], question[within], weights, conf),
            "points_per_length_doubling": Rate(fit.points_per_doubling, fit.points_per_doubling_ci, int(mask.sum())),
        }

    every = np.ones(len(rows), dtype=bool)
    overall = stats(every, models)
    per_model = {m: stats(model == m_index[m], [m]) for m in models}
    if not paired.any():
        notes.append("one answer per question: the within-question correlation needs two models' answers to a question")
    return overall, per_model, length_quartiles(length, score, question, len(qids), weights, conf)


def _points(judgments: Sequence[SingleJudgment | PairJudgment], pairwise: bool) -> Points:
    rows: list[tuple[str, int, float]] = []
    for j in judgments:
        if isinstance(j, SingleJudgment):
            if j.score is not None:
                rows.append((j.model, j.question_id, float(j.score)))
        elif not j.failed:
            outcome = match_outcome(j.g1_winner, j.g2_winner)
            first = 0.5 if outcome == "tie" else float(outcome == "model_1")
            rows += [(j.model_1, j.question_id, first), (j.model_2, j.question_id, 1.0 - first)]
    return points_from(rows)


def _load_reference(config: BiasConfig, pairwise: bool) -> list:
    path = config.reference_file
    assert path is not None
    if not path.is_file():
        raise UserError(f"--reference-judge: no judgment file at {path}")
    if pairwise:
        return _selected_pairs(load_pair_judgments(path), config, f"{path} (--reference-judge)")
    return _selected_single(load_single_judgments(path), config, f"{path} (--reference-judge)")
