"""Ray: the one place that shards work over replicas and merges their results.

Each replica is an actor that loads the model once and answers the chunks it is sent, in order; the
driver yields whichever chunk finishes first (the answer file is put in order at the end of the run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from mtbench.errors import RunFailed, UserError
from mtbench.gen_model_answer.answering import answer_questions
from mtbench.gen_model_answer.config import AnswerSettings, GenAnswerConfig, ModelSpec, gpu_flags_problem
from mtbench.gen_model_answer.engine import first_line
from mtbench.gen_model_answer.hf_loading import load_generator, resolve_device
from mtbench.records import Answer, Question

log = logging.getLogger("mtbench")


class _Replica:
    """A Ray actor: loads the model once, then answers the chunks it is sent, one at a time."""

    def __init__(self, spec: ModelSpec, settings: AnswerSettings):
        self.generator = load_generator(spec)
        self.settings = settings

    def answer(self, questions: list[Question]) -> list[Answer]:
        return answer_questions(self.generator, questions, self.settings)


def ray_answers(cfg: GenAnswerConfig, plan: list[list[list[Question]]]) -> Iterator[Answer]:
    """The answers of every chunk in ``plan`` (one list of chunks per replica), as chunks finish."""
    import ray

    replicas = len(plan)
    # Joining a cluster, the driver may be a GPU-less head node: "auto" then asks the cluster, not torch.
    wanted = cfg.model.device if cfg.ray_address else resolve_device(cfg.model.device)
    started_here = not ray.is_initialized()
    if started_here:
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, log_to_driver=False)
        elif wanted == "cuda":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=replicas * cfg.num_cpus_per_replica, include_dashboard=False, log_to_driver=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        problem = gpu_flags_problem(cfg, int(gpus), where="in the Ray cluster") if cfg.ray_address else None
        if problem:
            raise UserError(problem)
        device = wanted if wanted != "auto" else ("cuda" if gpus > 0 else "cpu")
        resources: dict[str, Any]
        if device == "cuda":
            if gpus < replicas * cfg.model.num_gpus:
                raise UserError(
                    f"{replicas} replicas x {cfg.model.num_gpus} GPUs need {replicas * cfg.model.num_gpus} GPUs; "
                    f"the Ray cluster has {gpus:g}"
                )
            resources = {"num_gpus": cfg.model.num_gpus, "num_cpus": 1}
            spec = replace(cfg.model, device="cuda")
        else:
            resources = {"num_cpus": cfg.num_cpus_per_replica}
            spec = replace(cfg.model, device="cpu", cpu_threads=cfg.model.cpu_threads or cfg.num_cpus_per_replica)
        actor_class = ray.remote(_Replica)
        actors = [actor_class.options(**resources).remote(spec, cfg.answers) for _ in range(replicas)]
        # Each actor runs its calls in order; the driver writes whatever chunk finishes first.
        pending = [
            actor.answer.remote(chunk)  # type: ignore[union-attr]  # Ray adds .remote to actor methods
            for actor, chunks in zip(actors, plan, strict=True)
            for chunk in chunks
        ]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                answers = ray.get(done[0])
            except ray.exceptions.RayError as e:
                raise _ray_failure(e) from None
            yield from answers
    finally:
        if started_here:
            ray.shutdown()


def _ray_failure(e: Exception) -> Exception:
    cause = getattr(e, "cause", None)
    if isinstance(cause, (UserError, RunFailed)):
        return cause
    return RunFailed(f"a Ray replica failed: {first_line(cause or e)}")
