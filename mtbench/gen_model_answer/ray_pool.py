"""Ray: the one place that shards work over replicas and merges their results.

Each replica is an actor placed by Ray (spread over the cluster's nodes) that loads a model once and
answers the chunks it is sent, one call at a time; with several models a replica switches model only
when the one it holds has no work left (``planning.WorkQueue``). The driver alone writes answer files:
replicas return records, tagged with the replica and node that produced them.

Before anything is generated every replica checks each model path on its own node, so a path that one
node lacks is one line naming the node. A replica lost mid-run (its node died) is dropped: its chunk
goes back to the queue for the surviving replicas, or, with no replica left, becomes failure records
that say why.
"""

from __future__ import annotations

import gc
import logging
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import shortuuid

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.reasoning import SplitReply
from mtbench.core.records import Answer, Choice, Question
from mtbench.gen_model_answer.answering import answer_questions
from mtbench.gen_model_answer.config import AnswerSettings, GenAnswerConfig, ModelSpec, gpu_flags_problem
from mtbench.gen_model_answer.engine import Generator, first_line
from mtbench.gen_model_answer.engines import load_engine
from mtbench.gen_model_answer.hf_loading import check_model_location, resolve_device
from mtbench.gen_model_answer.planning import Chunk, WorkQueue

log = logging.getLogger("mtbench")


@dataclass(frozen=True)
class ModelJob:
    """One model of the run: how to load it, how to answer, and its chunks of questions."""

    spec: ModelSpec
    settings: AnswerSettings
    chunks: list[list[Question]]
    # turns a killed run finished, by (question, choice): a replica goes on from the turn after them
    saved: Mapping[tuple[int, int], list[SplitReply]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkAnswered:
    """Records for ``job``'s answer file (answers, or failures saying why a chunk was not answered)."""

    job: int
    answers: list[Answer]


@dataclass(frozen=True)
class JobFailed:
    """``job``'s model cannot be answered on this cluster; the other models go on."""

    job: int
    error: UserError | RunFailed


@dataclass(frozen=True)
class ReplicasReady:
    """The cluster is joined and the replicas are placed: generation starts (progress can be shown now)."""


PoolEvent = ChunkAnswered | JobFailed | ReplicasReady


@dataclass(frozen=True)
class Placement:
    """Where a replica runs, as recorded in each answer it produces."""

    replica: int
    node_id: str
    node_ip: str

    def __str__(self) -> str:
        return f"replica {self.replica} on node {self.node_ip} ({self.node_id[:8]})"

    def tags(self) -> dict[str, Any]:
        return {"replica": self.replica, "node_id": self.node_id, "node_ip": self.node_ip}


class _Replica:
    """A Ray actor: holds one loaded model at a time and answers the chunks it is sent."""

    def __init__(self, replica: int):
        import ray

        self.placement = Placement(replica, ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address())
        self.job: int | None = None
        self.generator: Generator | None = None

    def where(self) -> Placement:
        return self.placement

    def check(self, spec: ModelSpec) -> str | None:
        """Why ``spec`` cannot be loaded on this node (files only), or None."""
        try:
            check_model_location(spec)
        except UserError as e:
            return f"{e} on node {self.placement.node_ip} ({self.placement.node_id[:8]})"
        return None

    def answer(self, job: int, spec: ModelSpec, settings: AnswerSettings, questions: list[Question],
               saved: Mapping[tuple[int, int], list[SplitReply]] | None = None) -> list[Answer]:
        if self.job != job or self.generator is None:
            self._unload()
            if spec.device == "cpu" and spec.cpu_bind is None:
                spec = replace(spec, cpu_bind=replica_cores(self.placement.replica, spec.cpu_threads or 1))
            self.generator = load_engine(spec)
            self.job = job
        tags = self.placement.tags()
        return [replace(a, extra={**a.extra, **tags}) for a in answer_questions(self.generator, questions, settings,
                                                                                   saved=saved)]

    def _unload(self) -> None:
        # The previous model's weights go before the next one loads: two models need not fit at once.
        self.generator = None
        self.job = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def replica_cores(replica: int, threads: int, cores: Sequence[int] | None = None) -> str:
    """The cores CPU replica ``replica`` binds its ``threads`` to ("0,1"): replicas on one node take
    consecutive shares of the node's cores, so two replicas on two cores do not fight over both."""
    import os

    available = sorted(cores if cores is not None else os.sched_getaffinity(0))
    start = (replica * threads) % len(available)
    return ",".join(str(available[(start + k) % len(available)]) for k in range(min(threads, len(available))))


def ray_answers(cfg: GenAnswerConfig, jobs: Sequence[ModelJob], replicas: int) -> Iterator[PoolEvent]:
    """Every job's records over ``replicas`` Ray actors, as chunks finish; ``cfg`` gives the run's shared
    settings (device, GPUs and CPUs per replica, the cluster to join)."""
    import ray

    # Joining a cluster, the driver may be a GPU-less head node: "auto" then asks the cluster, not torch.
    wanted = cfg.model.device if cfg.ray_address else resolve_device(cfg.model.device)
    started_here = not ray.is_initialized()
    if started_here:
        if cfg.ray_address:
            _check_reachable(cfg.ray_address)
            ray.init(address=cfg.ray_address, log_to_driver=False)
        elif wanted == "cuda":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=replicas * cfg.num_cpus_per_replica, include_dashboard=False, log_to_driver=False)
    try:
        resources, device = _replica_resources(cfg, wanted, replicas, ray.cluster_resources())
        actor_class = ray.remote(_Replica)
        actors = [
            actor_class.options(**resources, scheduling_strategy="SPREAD", max_restarts=0).remote(i)
            for i in range(replicas)
        ]
        specs = [replace(job.spec, **device) for job in jobs]
        try:
            placements = ray.get([a.where.remote() for a in actors])  # type: ignore[union-attr]
            checks = [ray.get([a.check.remote(spec) for a in actors]) for spec in specs]  # type: ignore[union-attr]
        except ray.exceptions.RayError as e:
            raise RunFailed(f"a Ray replica could not start: {first_line(e)}") from None
        log.info("replicas: %s", "; ".join(str(p) for p in placements))
        yield ReplicasReady()
        unreadable = {j: _unreadable([p for p in found if p]) for j, found in enumerate(checks) if any(found)}
        yield from (JobFailed(j, error) for j, error in unreadable.items())
        yield from _answer(ray, dict(enumerate(actors)), placements, jobs, specs, failed=set(unreadable))
    finally:
        if started_here:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """A HOST:PORT nobody listens on is one line now (Ray itself retries it for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", ray://...: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as e:
        raise UserError(
            f"--ray-address {address}: no Ray cluster answers there ({e.strerror or e}); "
            "start one with `ray start --head`, or check the address"
        ) from None


def _replica_resources(
    cfg: GenAnswerConfig, wanted: str, replicas: int, cluster: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Ray resources per replica, ModelSpec fields for the replicas' device); a cluster too small for
    the replicas is one line, never actors left waiting forever for room."""
    gpus = cluster.get("GPU", 0)
    problem = gpu_flags_problem(cfg, int(gpus), where="in the Ray cluster") if cfg.ray_address else None
    if problem:
        raise UserError(problem)
    device = wanted if wanted != "auto" else ("cuda" if gpus > 0 else "cpu")
    if device == "cuda":
        if gpus < replicas * cfg.model.num_gpus:
            raise UserError(
                f"{replicas} replicas x {cfg.model.num_gpus} GPUs need {replicas * cfg.model.num_gpus} GPUs; "
                f"the Ray cluster has {gpus:g}"
            )
        return {"num_gpus": cfg.model.num_gpus, "num_cpus": 1}, {"device": "cuda"}
    cpus = cluster.get("CPU", 0)
    if cpus < replicas * cfg.num_cpus_per_replica:
        raise UserError(
            f"{replicas} CPU replicas x --num-cpus-per-replica {cfg.num_cpus_per_replica} need "
            f"{replicas * cfg.num_cpus_per_replica} CPUs; the Ray cluster has {cpus:g}"
        )
    threads = cfg.model.cpu_threads or cfg.num_cpus_per_replica
    return {"num_cpus": cfg.num_cpus_per_replica}, {"device": "cpu", "cpu_threads": threads}


def _unreadable(problems: list[str]) -> UserError:
    more = f" (and for {len(problems) - 1} more replica(s))" if len(problems) > 1 else ""
    return UserError(
        f"{problems[0]}{more}; the model must be readable at that path on every node "
        "(shared storage, or the same copy on each node)"
    )


def _answer(
    ray: Any,
    live: dict[int, Any],
    placements: list[Placement],
    jobs: Sequence[ModelJob],
    specs: list[ModelSpec],
    failed: set[int],
) -> Iterator[PoolEvent]:
    """Answer every job not ``failed`` already, one call in flight per replica, until no work is left."""
    queue = WorkQueue([[] if j in failed else job.chunks for j, job in enumerate(jobs)])
    lost: dict[int, list[str]] = {}
    in_flight: dict[Any, tuple[int, Chunk]] = {}

    def dispatch() -> None:
        busy = {r for r, _ in in_flight.values()}
        for r, actor in live.items():
            chunk = None if r in busy else queue.next_for(r)
            if chunk is not None:
                job = jobs[chunk.job]
                ids = {q.question_id for q in chunk.questions}
                saved = {row: turns for row, turns in job.saved.items() if row[0] in ids and turns}
                in_flight[actor.answer.remote(chunk.job, specs[chunk.job], job.settings, chunk.questions,
                                              saved)] = (r, chunk)

    dispatch()
    while in_flight:
        (ref,), _ = ray.wait(list(in_flight), num_returns=1)
        r, chunk = in_flight.pop(ref)
        try:
            answers: list[Answer] = ray.get(ref)
        except ray.exceptions.RayTaskError as e:  # the model raised (a load error): that model stops
            if chunk.job not in failed:
                failed.add(chunk.job)
                queue.drop(chunk.job)
                yield JobFailed(chunk.job, _ray_failure(e))
        except ray.exceptions.RayError as e:  # the replica is gone (its process or its node died)
            ray.kill(live.pop(r), no_restart=True)
            reason = f"{placements[r]} was lost: {first_line(e)}"
            log.warning("%s; %s", reason, "its questions go to the other replicas" if live else "no replica is left")
            requeued = bool(live) and queue.lost(r, chunk)
            given_up: list[tuple[Chunk, str, Placement | None]] = [] if requeued else [(chunk, reason, placements[r])]
            if not live:
                given_up += [(c, f"no Ray replica was left ({reason})", None) for c in queue.drain()]
            for c, why, where in given_up:
                if c.job not in failed:
                    lost.setdefault(c.job, []).append(why)
                    yield ChunkAnswered(c.job, lost_answers(c.questions, jobs[c.job].settings, why, where))
        else:
            yield ChunkAnswered(chunk.job, answers)
        dispatch()
    for j, reasons in lost.items():
        yield JobFailed(j, RunFailed(
            f"{len(reasons)} chunk(s) of questions were not answered: {reasons[-1]}; "
            "their failure records say so; rerun with --retry-failed"
        ))


def lost_answers(
    questions: Sequence[Question], settings: AnswerSettings, reason: str, where: Placement | None
) -> list[Answer]:
    """Failure records for questions no replica could answer: no turns, the reason, the replica lost
    with them (None: they were still queued)."""
    return [
        Answer(
            question_id=q.question_id,
            answer_id=shortuuid.uuid(),
            model_id=settings.model_id,
            choices=tuple(Choice(index=c, turns=()) for c in range(settings.num_choices)),
            tstamp=time.time(),
            error=reason,
            extra={"seed": settings.seed, **(where.tags() if where else {})},
        )
        for q in questions
    ]


def _ray_failure(e: Exception) -> UserError | RunFailed:
    cause = getattr(e, "cause", None)
    if isinstance(cause, (UserError, RunFailed)):
        return cause
    return RunFailed(f"a Ray replica failed: {first_line(cause or e)}")
