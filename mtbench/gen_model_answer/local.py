"""The gen-answer run: which questions are still to answer, on how many replicas, written as they finish.

Each model's answer file is held (``answer_run``) before anything heavy happens: a second run on the
file or a folder that cannot be written is refused in one line before torch is even imported. Then the
GPU flags are checked against the machine, the model is loaded (one replica here, or Ray actors), and
each finished answer is appended by this process alone; at the end each file is put in FastChat's order.

Several models (checkpoints) share one run: one answer file each, scheduled together over the Ray
replicas. A model that fails (a bad path, a load error) is reported and the others go on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mtbench.core.answer_file import answer_run, existing_answers, questions_to_ask
from mtbench.core.errors import RunFailed, UserError
from mtbench.core.partial_turns import PartialTurns
from mtbench.core.progress import bars_on
from mtbench.core.reasoning import SplitReply
from mtbench.core.records import Answer, JsonlWriter, Question
from mtbench.core.templates import resolve_template
from mtbench.gen_model_answer.answering import answer_questions
from mtbench.gen_model_answer.config import (
    GenAnswerConfig,
    GenAnswerRuns,
    GenSummary,
    ModelSpec,
    gpu_flags_problem,
    ignored_gpu_flags,
    visible_cuda_devices,
)
from mtbench.gen_model_answer.engine import Generator, Pipelining
from mtbench.gen_model_answer.engines import check_engine, load_engine
from mtbench.gen_model_answer.hf_loading import (
    check_model_location,
    load_tokenizer,
    resolve_device,
)
from mtbench.gen_model_answer.planning import interleave, plan_replica_chunks
from mtbench.gen_model_answer.ray_pool import ChunkAnswered, ModelJob, ReplicasReady, ray_answers
from mtbench.protocols import bench_questions

log = logging.getLogger("mtbench")

GeneratorFactory = Callable[[ModelSpec], Generator]


@dataclass(frozen=True)
class ModelOutcome:
    """How one model of a run ended: its summary (None when it never started), or the error that stopped it."""

    model_id: str
    summary: GenSummary | None
    error: UserError | RunFailed | None = None

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error else 0

    def result(self) -> GenSummary:
        """The summary, or the model's error raised."""
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


def gen_model_answer(cfg: GenAnswerConfig, generator_factory: GeneratorFactory | None = None) -> GenSummary:
    """Answer every selected question not yet answered in the answer file; see the module docstring.

    ``generator_factory`` replaces model loading in the single-replica path (tests use it to inject
    failures); Ray replicas always load the real model.
    """
    (outcome,) = gen_model_answers(GenAnswerRuns((cfg,)), generator_factory)
    return outcome.result()


def gen_model_answers(runs: GenAnswerRuns, generator_factory: GeneratorFactory | None = None) -> list[ModelOutcome]:
    """Every model of ``runs``, one outcome each (in order); a model's failure does not stop the others."""
    shared = runs.shared
    outcomes: dict[int, ModelOutcome] = {}
    with contextlib.ExitStack() as stack:
        models: dict[int, _ModelRun] = {}
        for i, cfg in enumerate(runs.runs):
            try:
                models[i] = stack.enter_context(_ModelRun(cfg, check_files=generator_factory is None))
            except (UserError, RunFailed) as e:
                outcomes[i] = ModelOutcome(cfg.answers.model_id, None, e)
        if models:
            check_devices(shared)
        todo = {i: m for i, m in models.items() if m.pending}
        replicas = max(1, min(shared.replicas, sum(len(m.pending) for m in todo.values())))
        if todo and generator_factory is None and not shared.ray_address:
            check_engine(shared.model)  # vLLM missing: one line now, before a model loads or Ray starts
        if todo:
            with _Progress(sum(len(m.pending) for m in todo.values()), shared.progress) as bar:
                if shared.ray_address or replicas > 1:
                    _on_ray(shared, list(todo.values()), replicas, bar)
                else:
                    _in_process(list(todo.values()), generator_factory, bar)
        for i, model in models.items():
            outcomes[i] = model.finish(replicas if model.pending else 0)
    return [outcomes[i] for i in range(len(runs.runs))]


def check_devices(cfg: GenAnswerConfig) -> None:
    """Refuse GPU flags this machine cannot honour (one line), and warn about ones that do nothing."""
    if not cfg.ray_address:  # a joined cluster's GPUs are counted when the actors are placed
        problem = gpu_flags_problem(cfg, visible_cuda_devices())
        if problem:
            raise UserError(problem)
    warning = ignored_gpu_flags(cfg, cfg.model.device if cfg.ray_address else resolve_device(cfg.model.device))
    if warning:
        log.warning(warning)


class _ModelRun:
    """One model's answer file for the run: held on entry, written by ``write``, put in order on exit."""

    def __init__(self, cfg: GenAnswerConfig, check_files: bool):
        self.cfg = cfg
        self.path = cfg.output_file
        self.questions = bench_questions(cfg.layout, cfg.question_begin, cfg.question_end, cfg.per_category)
        # Files only: a wrong path is said before anything is loaded. On a cluster the path need not exist
        # where the driver runs; each replica checks it on its own node.
        if check_files and not cfg.ray_address:
            check_model_location(cfg.model)
        self.pending: list[Question] = []
        self.skipped = self.written = self.failed = self.cut = 0
        self.error: UserError | RunFailed | None = None
        self._files = contextlib.ExitStack()
        self._writer: JsonlWriter | None = None
        self.partial: PartialTurns | None = None  # turns a killed run finished, and where this one saves its own

    def __enter__(self) -> _ModelRun:
        with contextlib.ExitStack() as files:
            files.enter_context(answer_run(self.path, "gen-answer"))
            self.pending = questions_to_ask(self.questions, existing_answers(self.path), self.cfg.retry_failed)
            self.partial = files.enter_context(PartialTurns(self.path, partial_settings(self.cfg)))
            self._files = files.pop_all()
        self.skipped = len(self.questions) - len(self.pending)
        if self.skipped:
            log.info("%s: %d of %d questions already answered; skipping them", self.path, self.skipped,
                     len(self.questions))
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        with _naming(self.path):  # closing the file flushes it: that write's error names the file too
            return self._files.__exit__(*exc)

    def start_writing(self, bar: _Progress) -> None:
        """Open the answer file for appending and show progress (once the model is ready, as generation
        starts: a model that fails to load leaves neither)."""
        bar.start()
        if self._writer is None:
            with _naming(self.path):
                self._writer = self._files.enter_context(JsonlWriter(self.path))

    def write(self, answers: list[Answer], bar: _Progress) -> None:
        self.start_writing(bar)
        assert self._writer is not None
        provenance = self.cfg.provenance()
        with _naming(self.path):
            for answer in answers:
                # additive only: a field the engine already wrote is kept as it is
                self._writer.write(replace(answer, extra={**provenance, **answer.extra}))
                self.written += 1
                self.failed += answer.failed
                self.cut += sum(len(c.cut_while_reasoning) for c in answer.choices)
                bar.update(1)

    def saved_turns(self, questions: list[Question]) -> dict[tuple[int, int], list[SplitReply]]:
        """The turns a killed run finished for ``questions``, to go on from."""
        assert self.partial is not None
        return {(q.question_id, c): self.partial.replies(q.question_id, c, len(q.turns))
                for q in questions for c in range(self.cfg.answers.num_choices)}

    def save_turn(self, row: tuple[int, int], turn: int, reply: SplitReply) -> None:
        assert self.partial is not None
        self.partial.save(row[0], row[1], turn, reply)

    def fail(self, error: UserError | RunFailed) -> None:
        """The model stops with ``error`` (the first one counts); what it wrote stays."""
        self.error = self.error or error

    def finish(self, replicas: int) -> ModelOutcome:
        with _naming(self.path):
            self._files.close()  # the file in FastChat's order before the outcome is reported
        model_id = self.cfg.answers.model_id
        if self.error is None and self.written and self.failed == self.written:
            self.error = RunFailed(
                f"every generation failed ({self.failed} questions); see the 'error' fields in {self.path}, "
                "then rerun with --retry-failed"
            )
        summary = GenSummary(
            self.path, len(self.questions), self.skipped, self.written, self.failed, replicas, self.cut
        )
        return ModelOutcome(model_id, summary, self.error)


def _in_process(models: list[_ModelRun], factory: GeneratorFactory | None, bar: _Progress) -> None:
    """One replica in this process: the models one after another, each loaded once."""
    for model in models:
        try:
            generator = (factory or load_engine)(model.cfg.model)
        except UserError as e:
            model.fail(e)
            continue
        model.start_writing(bar)
        # An engine that pipelines gets every question at once (it keeps its own batch full); answers are
        # written one by one as they finish either way.
        chunk_size = len(model.pending) if isinstance(generator, Pipelining) else model.cfg.model.batch_size

        def write(answer: Answer, model: _ModelRun = model) -> None:
            model.write([answer], bar)

        for chunk in plan_replica_chunks(model.pending, 1, chunk_size)[0]:
            answer_questions(generator, chunk, model.cfg.answers, on_answer=write, saved=model.saved_turns(chunk),
                             on_turn=model.save_turn)
        del generator  # one model's weights in memory at a time


def partial_settings(cfg: GenAnswerConfig) -> dict[str, Any]:
    """What a turn's text depends on: a saved turn is reused only by a run with the same (``partial_turns``)."""
    spec = cfg.model
    return {"engine": spec.engine, "path": spec.path, "gguf_file": spec.gguf_file, "revision": spec.revision,
            "dtype": spec.dtype, "chat_template": spec.chat_template, "chat_template_kwargs": dict(spec.chat_template_kwargs),
            "max_new_token": cfg.answers.max_new_token, "seed": cfg.answers.seed,
            "reasoning": cfg.answers.reasoning.record()}


def _on_ray(shared: GenAnswerConfig, models: list[_ModelRun], replicas: int, bar: _Progress) -> None:
    """Ray replicas over every model; this process writes what they return."""
    if not shared.ray_address:
        # A local cluster reads the driver's disk: a bad template is said before Ray starts.
        for model in list(models):
            try:
                spec = model.cfg.model
                resolve_template(spec.chat_template, load_tokenizer(spec), spec.chat_template_kwargs)
            except UserError as e:
                model.fail(e)
                models.remove(model)
    if not models:
        return
    jobs = [
        ModelJob(m.cfg.model, m.cfg.answers, interleave(plan_replica_chunks(m.pending, replicas, m.cfg.model.batch_size)),
                 m.saved_turns(m.pending))
        for m in models
    ]
    # No progress is shown before the cluster is joined: a wrong --ray-address is its one line, alone.
    for event in ray_answers(shared, jobs, replicas):
        if isinstance(event, ReplicasReady):
            for model in models:
                model.start_writing(bar)
        elif isinstance(event, ChunkAnswered):
            models[event.job].write(event.answers, bar)
        else:
            models[event.job].fail(event.error)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A write error (a full disk) names the answer file: the OS error of a write carries no file name."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


class _Progress:
    """The run's progress bar, shown from the first generation on (not while a model fails to load)."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled
        self._bar: Any = None

    def start(self) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="question", desc="gen-answer", disable=not bars_on(self.enabled),
                             dynamic_ncols=True)

    def update(self, n: int) -> None:
        self.start()
        self._bar.update(n)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
