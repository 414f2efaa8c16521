"""Where `mtbench run`'s answers come from: one interface for a local engine and an API endpoint.

gen-answer's config (``GenAnswerRuns``: one or more checkpoints) and gen-api-answer's (``ApiAnswerConfig``:
one served model) have different shapes; an ``AnswerSource`` gives the run what it needs from either
(the models and files it produces, what is left to generate, running the step, its typed result), so
the pipeline calls methods instead of asking which config it holds. ``answer_source`` is the one place
that tells the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from mtbench.core.answer_file import existing_answers, questions_to_ask
from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.records import Question
from mtbench.gen_api_answer import ApiAnswerConfig, generate_api_answers
from mtbench.gen_model_answer import GenAnswerRuns, check_model_location, gen_model_answers
from mtbench.protocols import bench_questions


@dataclass(frozen=True)
class AnswerPlan:
    """One model's answer step: how many questions it asks, and how many are already answered."""

    model_id: str
    source: str  # where the answers come from, for the plan
    answer_file: Path
    selected: int
    todo: tuple[Question, ...]
    max_tokens: int  # per turn: what a placeholder answer is as long as

    def describe(self) -> str:
        done = self.selected - len(self.todo)
        return (f"answers: {self.model_id} ({self.source}): {self.selected} question(s), {done} already answered, "
                f"{len(self.todo)} to generate -> {self.answer_file}")


@dataclass(frozen=True)
class ModelAnswers:
    """How one model's answer step ended, as the run reads it: its counts, or the error that stopped it."""

    model_id: str
    answer_file: Path
    selected: int = 0  # questions in the slice
    skipped: int = 0  # already answered on disk
    answered: int = 0  # asked now and answered
    failed: int = 0  # asked now and failed (failure records)
    error: str | None = None  # the model's step failed: it has no answers to judge
    elapsed_s: float | None = None  # an endpoint's step: its time and tokens
    tokens: tuple[int, int] | None = None  # (prompt, completion)
    replicas: int | None = None  # a local model's step: the replicas it ran on

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.model_id}: error: {self.error}"
        if not self.answered + self.failed:
            return f"{self.model_id}: all {self.selected} question(s) already answered in {self.answer_file}"
        how = "" if self.elapsed_s is None else f" in {self.elapsed_s:.1f}s"
        if self.tokens is not None:
            how += f"; tokens: {self.tokens[0]} prompt, {self.tokens[1]} completion"
        if self.replicas is not None:
            how += f" on {self.replicas} replica(s)"
        return (f"{self.model_id}: {self.answered} answered, {self.failed} failed ({self.skipped} already there)"
                f"{how} -> {self.answer_file}"
                + ("; rerun with --retry-failed to ask the failed ones again" if self.failed else ""))


@dataclass(frozen=True)
class AnswerStep:
    """What the answer step did: one result per model, and the step's exit code (the worst model's)."""

    models: tuple[ModelAnswers, ...]
    exit_code: int = 0

    @property
    def answered(self) -> tuple[str, ...]:
        """The models that have answers to judge (their step did not fail)."""
        return tuple(m.model_id for m in self.models if m.error is None)


class AnswerSource(Protocol):
    """Where a run's answers come from."""

    @property
    def step(self) -> str:
        """The step of `mtbench run` whose options it holds (``mtbench.cli.run_steps``): its errors are named so."""

    @property
    def layout(self) -> BenchLayout: ...

    @property
    def model_ids(self) -> tuple[str, ...]:
        """The answer files' stems: the models the judge and the tables take."""

    @property
    def answer_files(self) -> tuple[Path, ...]: ...

    @property
    def question_slice(self) -> tuple[int | None, int | None]:
        """``--question-begin`` and ``--question-end``."""

    def check_inputs(self) -> None:
        """A one-line UserError for what the flags and the model folder alone show is wrong."""

    def plans(self) -> tuple[AnswerPlan, ...]:
        """Each model's answer step, counted as its command counts it (reads the question and answer files)."""

    def run(self) -> AnswerStep:
        """Generate what is left; raises where the step cannot finish and nothing after it can run."""


def _plan(layout: BenchLayout, model_id: str, source: str, output: Path, begin: int | None, end: int | None,
          per_category: int | None, retry_failed: bool, max_tokens: int) -> AnswerPlan:
    questions = bench_questions(layout, begin, end, per_category)
    todo = questions_to_ask(questions, existing_answers(output), retry_failed)
    return AnswerPlan(model_id, source, output, len(questions), tuple(todo), max_tokens)


@dataclass(frozen=True)
class ApiAnswerSource:
    """Answers from a model behind an OpenAI-compatible endpoint (gen-api-answer)."""

    config: ApiAnswerConfig
    step: ClassVar[str] = "api"

    def __post_init__(self) -> None:
        if not self.config.endpoint.resolved_base_url():
            raise UserError(
                f"--model {self.config.model} needs --base-url URL: the OpenAI-compatible server that serves it "
                "(for the OpenAI API itself: --base-url https://api.openai.com/v1)"
            )

    @property
    def layout(self) -> BenchLayout:
        return self.config.layout

    @property
    def model_ids(self) -> tuple[str, ...]:
        return (self.config.model_id,)

    @property
    def answer_files(self) -> tuple[Path, ...]:
        return (self.config.output_file,)

    @property
    def question_slice(self) -> tuple[int | None, int | None]:
        return self.config.question_begin, self.config.question_end

    def check_inputs(self) -> None:
        return None  # the endpoint is checked by its preflight, when the step runs

    def plans(self) -> tuple[AnswerPlan, ...]:
        c = self.config
        where = f"{c.model} at {c.endpoint.resolved_base_url()}"
        return (_plan(self.layout, c.model_id, where, c.output_file, c.question_begin, c.question_end,
                      c.per_category, c.retry_failed, c.max_tokens),)

    def run(self) -> AnswerStep:
        s = generate_api_answers(self.config)  # a run that cannot finish raises: nothing after it can run
        return AnswerStep((ModelAnswers(
            self.config.model_id, s.answer_file, selected=s.selected, skipped=s.skipped, answered=s.answered,
            failed=len(s.failed), elapsed_s=s.elapsed_s, tokens=(s.prompt_tokens, s.completion_tokens),
        ),))


@dataclass(frozen=True)
class LocalAnswerSource:
    """Answers from one or more local checkpoints on gen-answer's engines (gen-answer)."""

    runs: GenAnswerRuns
    step: ClassVar[str] = "local"

    @property
    def layout(self) -> BenchLayout:
        return self.runs.shared.layout

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(run.answers.model_id for run in self.runs.runs)

    @property
    def answer_files(self) -> tuple[Path, ...]:
        return tuple(run.output_file for run in self.runs.runs)

    @property
    def question_slice(self) -> tuple[int | None, int | None]:
        return self.runs.shared.question_begin, self.runs.shared.question_end

    def check_inputs(self) -> None:
        for run in self.runs.runs:
            check_model_location(run.model)

    def plans(self) -> tuple[AnswerPlan, ...]:
        return tuple(
            _plan(self.layout, run.answers.model_id, f"local model {run.model.path}", run.output_file,
                  run.question_begin, run.question_end, run.per_category, run.retry_failed, run.answers.max_new_token)
            for run in self.runs.runs
        )

    def run(self) -> AnswerStep:
        outcomes = gen_model_answers(self.runs)
        if len(outcomes) == 1:
            outcomes[0].result()  # one model: its error is the run's
        models = []
        for run, outcome in zip(self.runs.runs, outcomes, strict=True):
            if outcome.error is not None:
                models.append(ModelAnswers(outcome.model_id, run.output_file, error=str(outcome.error)))
            else:
                g = outcome.result()
                models.append(ModelAnswers(
                    outcome.model_id, g.answer_file, selected=g.selected, skipped=g.skipped,
                    answered=g.written - g.failed, failed=g.failed, replicas=g.replicas,
                ))
        return AnswerStep(tuple(models), max(o.exit_code for o in outcomes))


def answer_source(answers: GenAnswerRuns | ApiAnswerConfig) -> AnswerSource:
    """The source of the answer step's config: the one place that tells gen-answer's from gen-api-answer's."""
    if isinstance(answers, ApiAnswerConfig):
        return ApiAnswerSource(answers)
    return LocalAnswerSource(answers)
