"""A judging run's configuration and its plan: what is loaded, what is left to judge, and what it costs.

Planning calls nothing and writes nothing. ``load_work`` reads the inputs (questions, answers, prompts,
references) and builds the matches; ``plan_for`` adds what the output file already holds. The runner
reads the output only while it holds the file (see ``runner.judge``), so the plan it prints is the one
it runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.answer_file import first_per_category
from mtbench.core.bench import (
    BenchLayout,
    Mode,
)
from mtbench.core.cost import (
    OutputEstimate,
    Price,
    estimate_input_tokens,
    estimate_output,
    format_usd,
    looks_like_reasoning,
)
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError
from mtbench.core.record_files import (
    load_answers,
    load_pair_judgments,
    load_questions,
    load_single_judgments,
    question_line,
)
from mtbench.core.records import Answer, PairJudgment, Question, SingleJudgment, latest_by_key
from mtbench.gen_judgment.config import JudgeConfig
from mtbench.gen_judgment.matches import (
    JudgmentKey,
    Match,
    PairMatch,
    ResumeState,
    Skip,
    build_matches,
    repeat_matches,
    resume,
)
from mtbench.gen_judgment.prompts import check_mode, judge_messages, load_prompts, needs_reference
from mtbench.gen_judgment.provenance import RunProvenance, file_sha256
from mtbench.gen_judgment.results import replies_seen

log = logging.getLogger("mtbench")


@dataclass(frozen=True)
class JudgeWork:
    """The matches of a run, built from its inputs alone (before the output file is read)."""

    config: JudgeConfig
    models: tuple[str, ...]
    matches: tuple[Match, ...]
    skips: tuple[Skip, ...]
    provenance: RunProvenance | None = None


@dataclass(frozen=True)
class JudgePlan:
    config: JudgeConfig
    models: tuple[str, ...]
    output: Path
    matches: int
    resume: ResumeState
    skips: tuple[Skip, ...]
    api_calls: int
    input_tokens: int  # estimated
    output_tokens: int  # estimated
    price: Price | None
    provenance: RunProvenance | None = None
    output_estimate: OutputEstimate | None = None  # None: the short reply assumed

    @property
    def estimated_cost(self) -> float | None:
        return None if self.price is None else self.price.cost(self.input_tokens, self.output_tokens)

    def nothing_to_judge(self) -> str:
        """Why a run with nothing to do stops, as it is (not "already judged" when nothing could be)."""
        if not self.matches:
            return "nothing to judge: no match can be made from the answers (see the lines above)"
        return "nothing to judge: every match is already in the output file"

    def describe(self) -> str:
        c = self.config
        r = self.resume
        backend = c.backend()
        where = backend.where
        lines = [
            f"judge: {c.judge_model} {where}, mode {c.mode}"
            + (", --force-verdict" if c.force_verdict else "")
            + (f", baseline {c.baseline_model}" if c.mode is Mode.PAIRWISE_BASELINE else ""),
            *([f"judge request fields: {json.dumps(dict(c.extra_body))} (--judge-extra-body)"] if c.extra_body else []),
            f"models ({len(self.models)}): {', '.join(self.models)}",
            f"matches: {self.matches}"
            + (f" ({self.matches // c.judge_samples} x {c.judge_samples} samples)" if c.judge_samples > 1 else "")
            + f"; already judged {r.done}; to judge {len(r.todo)}"
            + (f" ({r.changed} whose prompt changed: an answer or reference was edited)" if r.changed else "")
            + (f" ({r.failed_retried} failed before, retried)" if r.failed_retried else ""),
        ]
        if r.failed_kept:
            lines.append(f"failed before and kept: {r.failed_kept} (use --retry-failed to judge them again)")
        skipped = sum(len(s.question_ids) for s in self.skips)
        if skipped:
            lines.append(f"not judged ({skipped} model-questions):")
            lines += [f"  {s.describe()}" for s in self.skips]
        price = backend.price_note(self.price, batch=bool(c.batch))
        per_call = self.output_estimate or estimate_output(c.max_tokens, (), reasoning=False)
        lines += [
            f"{backend.calls} calls: {self.api_calls}; estimated tokens: {self.input_tokens:,} in "
            f"(chars/4) + {self.output_tokens:,} out ({per_call.per_call} per call: {per_call.basis})",
            f"estimated cost: {format_usd(self.estimated_cost)} ({price})",
            f"output: {self.output}",
        ]
        return "\n".join(lines)


def _load_answers(
    layout: BenchLayout, models: Iterable[str], pending: Mapping[str, Mapping[int, Answer]]
) -> dict[str, dict[int, Answer]]:
    out = {}
    for model in models:
        path = layout.answer_file(model)
        if model in pending:
            out[model] = {**(load_answers(path) if path.is_file() else {}), **pending[model]}
            continue
        if not path.is_file():
            known = ", ".join(layout.model_ids()) or "none"
            raise UserError(f"no answers for model {model!r}: {path} does not exist (answer files: {known})")
        out[model] = load_answers(path)
    return out


def _drop_empty(config: JudgeConfig, models: tuple[str, ...], answers: Mapping[str, Mapping[int, Answer]],
                ) -> tuple[str, ...]:
    """The models that have answers: a model named (--model-list, the baseline) with none at all is one
    line (exit 2); one found by listing the answer folder is left out with a warning, unless none is left."""
    named = set(config.model_list or ()) | ({config.baseline_model} if config.mode is Mode.PAIRWISE_BASELINE else set())
    kept = []
    for model in dict.fromkeys((*models, *named)):
        if model not in answers or answers[model]:
            kept.append(model)
            continue
        problem = f"no answers to judge for {model}: its answer file {config.layout.answer_file(model)} is empty"
        if model in named or len(models) == 1:
            raise UserError(problem)
        log.warning("%s; left out", problem)
    models = tuple(m for m in models if m in kept)
    if not models:
        raise UserError(f"no answers to judge: every answer file in {config.layout.answer_dir} is empty")
    if config.mode is Mode.PAIRWISE_ALL and len(models) < 2:
        raise UserError(f"pairwise-all needs at least 2 models with answers, got {len(models)}: {', '.join(models)}")
    return models


def _load_references(
    layout: BenchLayout, name: str, questions: Sequence[Question]
) -> dict[int, Answer] | None:
    manifest = layout.manifest
    needed = [q for q in questions if needs_reference(q.category, manifest)]
    if not needed:
        return None
    path = layout.reference_file(name)
    if not path.is_file():
        raise ConfigError(
            f"reference answers {path} not found ({len(needed)} questions are judged against a reference): "
            f"run `mtbench download`, or pick another file in {layout.reference_dir} with {{reference}} NAME"
        )
    refs = load_answers(path)
    for q in needed:
        ref = refs.get(q.question_id)
        if ref is None or len(ref.turns) < len(q.turns) or ref.failed:
            raise UserError(f"{layout.question_file}:{question_line(layout.question_file, q.question_id)}: question "
                            f"{q.question_id}: its category {q.category} is judged against a reference, and {path} "
                            "has no usable reference answer for it")
    return refs


def _load_questions(config: JudgeConfig) -> list[Question]:
    path = config.layout.question_file
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `mtbench download` (or check {{layout.data_dir}}/{{layout.bench_name}})")
    questions = load_questions(path)
    if not questions:
        raise ConfigError(f"{path} holds no questions: run `mtbench download` again (or check {{layout.bench_name}})")
    if config.first_n is not None:
        questions = questions[: config.first_n]  # FastChat's --first-n: the first n questions
    questions = first_per_category(questions, config.per_category)
    return questions


def _models(config: JudgeConfig, pending: Mapping[str, object]) -> tuple[tuple[str, ...], list[str]]:
    """The models judged, and every model whose answers are read (the baseline too)."""
    layout = config.layout
    if config.model_list:
        models = tuple(dict.fromkeys(config.model_list))
    else:
        models = tuple(sorted({*layout.model_ids(), *pending}))
        if not models:
            raise UserError(
                f"no answer files in {layout.answer_dir}: generate answers first (mtbench gen-answer / gen-api-answer)"
            )
    needed = list(models)
    if config.mode is Mode.PAIRWISE_BASELINE:
        baseline = config.baseline_model
        if not layout.answer_file(baseline).is_file() and baseline not in pending:
            raise ConfigError(
                f"baseline answers {layout.answer_file(baseline)} not found "
                f"({{baseline_model}} {baseline}); generate them or pick another baseline"
            )
        needed.append(baseline)
        if not [m for m in models if m != baseline]:
            raise ConfigError(f"{{model_list}} has no model other than the baseline {baseline!r}")
    if config.mode is Mode.PAIRWISE_ALL and len(models) < 2:
        raise UserError(f"pairwise-all needs at least 2 models, got {len(models)}: {', '.join(models)}")
    return models, list(dict.fromkeys(needed))


def load_work(config: JudgeConfig, pending: Mapping[str, Mapping[int, Answer]] | None = None) -> JudgeWork:
    """Read the inputs and build every match; every problem with them is a UserError, before any write.

    ``pending``: answers not generated yet, per model (``mtbench run`` plans the judging before its
    answer step); they stand in for, or over, what the model's answer file holds.
    """
    layout = config.layout
    check_mode(config.mode, layout.manifest)  # before anything is read: the bench may not judge this way
    pending = pending or {}
    questions = _load_questions(config)
    models, needed = _models(config, pending)
    answers = _load_answers(layout, needed, pending)
    models = _drop_empty(config, models, answers)
    prompt_file = config.judge_file or layout.judge_prompts_file
    manifest = layout.manifest
    prompts = load_prompts(prompt_file, config.mode, manifest)
    reference = config.reference or manifest.default_reference
    references = _load_references(layout, reference, questions)
    provenance = RunProvenance(
        prompt_file_sha256=file_sha256(prompt_file),
        reference=reference if references is not None else None,
        reference_sha256=file_sha256(layout.reference_file(reference)) if references is not None else None,
    )
    matches, skips = build_matches(
        config.mode, questions, models, answers, prompts, references, reference, config.baseline_model,
        judge_model=config.judge_model, manifest=manifest,
    )
    if config.games is not None:
        matches = [m for m in matches if isinstance(m, PairMatch)
                   and (m.turn, m.question_id, *sorted((m.model_1, m.model_2))) in config.games]
    return JudgeWork(config, models, tuple(repeat_matches(matches, config.judge_samples)), tuple(skips), provenance)


def load_existing(path: Path, mode: Mode) -> Mapping[JudgmentKey, SingleJudgment | PairJudgment]:
    """The latest record per key already in the judgment file (none where there is no file)."""
    if not path.is_file():
        return {}
    records: list[SingleJudgment] | list[PairJudgment] = (
        load_pair_judgments(path) if mode.pairwise else load_single_judgments(path)
    )
    return latest_by_key(records, lambda r: r.key)


def plan_for(work: JudgeWork) -> JudgePlan:
    """What a run of ``work`` will call and cost, given what its output file holds now."""
    config = work.config
    output = config.output
    existing = load_existing(output, config.mode)
    state = resume(work.matches, existing, retry_failed=config.retry_failed)
    calls = input_tokens = 0
    for match in state.todo:
        for text in match.prompts:
            calls += 1
            input_tokens += estimate_input_tokens(judge_messages(match.prompt, text))
    price = config.price()
    per_call = estimate_output(config.max_tokens, replies_seen(existing.values()),
                               looks_like_reasoning(config.judge_model, config.extra_body))
    return JudgePlan(
        config=config, models=work.models, output=output, matches=len(work.matches), resume=state,
        skips=work.skips, api_calls=calls, input_tokens=input_tokens,
        output_tokens=calls * per_call.per_call, price=price, provenance=work.provenance, output_estimate=per_call,
    )


def plan_judging(config: JudgeConfig) -> JudgePlan:
    """Load everything, build the matches, and work out what a run will call and cost. Calls nothing.

    The plan reads the output file as it is now: a run holds the file before planning (``runner.judge``).
    """
    return plan_for(load_work(config))


def check_budget(plan: JudgePlan, *, dry_run: bool = False) -> None:
    """Refuse (ConfigError) a plan whose estimated cost is above ``max_cost``, or cannot be known.

    A dry run is refused the same way, so it says what the real run would do and exits as it would.
    """
    max_cost = plan.config.max_cost
    if max_cost is None or plan.api_calls == 0:
        return
    cost = plan.estimated_cost
    why = ""
    if cost is None:
        why = (
            f"{{max_cost}} {max_cost:g}: the price of {plan.config.judge_model} is unknown; "
            + ("give {batch_price_input} and {batch_price_output}" if plan.config.batch
               else "give {price_input} and {price_output}") + " (USD per 1M tokens)"
        )
    elif cost > max_cost:
        why = (
            f"estimated cost {format_usd(cost)} is above {{max_cost}} {format_usd(max_cost)}; "
            "judge fewer models/questions ({model_list}, {first_n}) or raise {max_cost}"
        )
    if why:
        raise ConfigError(f"dry run: the real run would be refused: {why}" if dry_run else why)
