"""The gen-answer run: which questions are still to answer, on how many replicas, written as they finish.

The answer file is held (``answer_run``) before anything heavy happens: a second run on the file or a
folder that cannot be written is refused in one line before torch is even imported. Then the GPU flags
are checked against the machine, the model (or, for Ray, its tokenizer and template) is loaded, and
each finished answer is appended; at the end the file is put in FastChat's order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mtbench.answer_file import answer_run, existing_answers, questions_to_ask, select_questions
from mtbench.errors import RunFailed, UserError
from mtbench.gen_model_answer.answering import answer_questions
from mtbench.gen_model_answer.config import (
    GenAnswerConfig,
    GenSummary,
    ModelSpec,
    gpu_flags_problem,
    ignored_gpu_flags,
)
from mtbench.gen_model_answer.engine import Generator
from mtbench.gen_model_answer.hf_loading import (
    check_model_location,
    load_generator,
    load_tokenizer,
    resolve_device,
    visible_cuda_devices,
)
from mtbench.gen_model_answer.planning import plan_replica_chunks
from mtbench.gen_model_answer.ray_pool import ray_answers
from mtbench.records import Answer, JsonlWriter, Question
from mtbench.templates import resolve_template

log = logging.getLogger("mtbench")

GeneratorFactory = Callable[[ModelSpec], Generator]


def gen_model_answer(cfg: GenAnswerConfig, generator_factory: GeneratorFactory | None = None) -> GenSummary:
    """Answer every selected question not yet answered in the answer file; see the module docstring.

    ``generator_factory`` replaces model loading in the single-replica path (tests use it to inject
    failures); Ray replicas always load the real model.
    """
    questions = select_questions(cfg.layout.question_file, cfg.question_begin, cfg.question_end)
    if generator_factory is None:
        check_model_location(cfg.model)  # files only: a wrong path is said before anything is loaded
    path = cfg.output_file
    written = failed = cut = 0
    with answer_run(path, "gen-answer"):
        check_devices(cfg)
        pending = questions_to_ask(questions, existing_answers(path), cfg.retry_failed)
        skipped = len(questions) - len(pending)
        if skipped:
            log.info("%s: %d of %d questions already answered; skipping them", path, skipped, len(questions))
        replicas = max(1, min(cfg.replicas, len(pending)))
        if pending:
            # Load (or check) everything before the first line of output, so a bad template or model
            # path is a clean one-line error.
            answers = _start(cfg, plan_replica_chunks(pending, replicas, cfg.model.batch_size), generator_factory)
            with _naming(path), JsonlWriter(path) as writer, _progress(len(pending), cfg.progress) as bar:
                for answer in answers:
                    writer.write(answer)
                    written += 1
                    failed += answer.failed
                    cut += sum(len(c.cut_while_reasoning) for c in answer.choices)
                    bar.update(1)
    if written and failed == written:
        raise RunFailed(
            f"every generation failed ({failed} questions); see the 'error' fields in {path}, "
            "then rerun with --retry-failed"
        )
    return GenSummary(path, len(questions), skipped, written, failed, replicas if pending else 0, cut)


def check_devices(cfg: GenAnswerConfig) -> None:
    """Refuse GPU flags this machine cannot honour (one line), and warn about ones that do nothing."""
    if not cfg.ray_address:  # a joined cluster's GPUs are counted when the actors are placed
        problem = gpu_flags_problem(cfg, visible_cuda_devices())
        if problem:
            raise UserError(problem)
    warning = ignored_gpu_flags(cfg, cfg.model.device if cfg.ray_address else resolve_device(cfg.model.device))
    if warning:
        log.warning(warning)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A write error (a full disk) names the answer file: the OS error of a write carries no file name."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="question", desc="gen-answer", disable=not enabled, dynamic_ncols=True)


def _start(cfg: GenAnswerConfig, plan: list[list[list[Question]]], factory: GeneratorFactory | None) -> Iterator[Answer]:
    """Load the model (one replica) or check the template (Ray), then return the stream of answers."""
    if len(plan) == 1:
        generator = (factory or load_generator)(cfg.model)
        return (answer for chunk in plan[0] for answer in answer_questions(generator, chunk, cfg.answers))
    resolve_template(cfg.model.chat_template, load_tokenizer(cfg.model), cfg.model.chat_template_kwargs)
    return ray_answers(cfg, plan)
