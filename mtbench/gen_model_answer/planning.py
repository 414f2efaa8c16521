"""Which replica answers which questions, in which chunks, and what a free replica does next (pure)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from mtbench.core.records import Question

T = TypeVar("T")


def balanced_shards(items: Sequence[T], n: int) -> list[list[T]]:
    """``n`` shards whose sizes differ by at most one (never an empty or tiny tail shard)."""
    n = max(1, min(n, len(items)))
    base, extra = divmod(len(items), n)
    shards: list[list[T]] = []
    start = 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        shards.append(list(items[start : start + size]))
        start += size
    return shards


def chunks_of(items: Sequence[T], max_size: int) -> list[list[T]]:
    """Consecutive chunks of at most ``max_size``, as even as possible (27 by 16 -> 14 + 13)."""
    if not items:
        return []
    return balanced_shards(items, math.ceil(len(items) / max_size))


def plan_replica_chunks(questions: Sequence[Question], replicas: int, batch_size: int) -> list[list[list[Question]]]:
    """Per replica, the chunks it answers in order. Questions are sorted by turn-1 length so a chunk's
    prompts pad little, then dealt round-robin so every replica gets the same mix of lengths."""
    ordered = sorted(questions, key=lambda q: (len(q.turns[0]), q.question_id))
    replicas = max(1, min(replicas, len(ordered)))
    shards = [ordered[i::replicas] for i in range(replicas)]
    return [chunks_of(shard, batch_size) for shard in shards]


def interleave(per_replica: Sequence[Sequence[T]]) -> list[T]:
    """Round-robin over the replicas' lists (their first items, then their second items, ...): a queue
    drawn in this order hands every free replica its own share first."""
    longest = max((len(items) for items in per_replica), default=0)
    return [items[i] for i in range(longest) for items in per_replica if i < len(items)]


@dataclass
class Chunk:
    """Questions one replica answers in one call, for one model (``job``); ``losses`` counts the replicas
    that were lost while holding it."""

    job: int
    questions: list[Question]
    losses: int = 0


class WorkQueue:
    """Which chunk a free replica answers next, over one or several models (pure; the Ray pool drives it).

    A replica keeps answering the model it has loaded while that model has chunks left; then it takes a
    model no replica holds (each load is paid once), else helps with the model that has the most left.
    A chunk whose replica was lost goes back to the front of its model's queue, until ``max_losses``
    replicas were lost on it (a chunk that kills every replica it meets is given up, not retried forever).
    """

    def __init__(self, chunks_per_job: Sequence[Sequence[list[Question]]], max_losses: int = 2):
        self._queues = {job: deque(Chunk(job, list(c)) for c in chunks) for job, chunks in enumerate(chunks_per_job)}
        self._holding: dict[int, int] = {}  # replica -> the job whose model it has loaded
        self.max_losses = max_losses

    def next_for(self, replica: int) -> Chunk | None:
        """The chunk ``replica`` answers next, or None when no work is left for it."""
        open_jobs = [job for job, queue in self._queues.items() if queue]
        if not open_jobs:
            return None
        job = self._holding.get(replica)
        if job not in open_jobs:
            held = {j for r, j in self._holding.items() if r != replica}
            fresh = [j for j in open_jobs if j not in held]
            job = min(fresh or open_jobs, key=lambda j: (-len(self._queues[j]), j))
        self._holding[replica] = job
        return self._queues[job].popleft()

    def lost(self, replica: int, chunk: Chunk) -> bool:
        """``replica`` is gone with ``chunk``: True when the chunk was queued again, False when given up."""
        self._holding.pop(replica, None)
        chunk.losses += 1
        if chunk.losses >= self.max_losses or chunk.job not in self._queues:
            return False
        self._queues[chunk.job].appendleft(chunk)
        return True

    def drop(self, job: int) -> list[Chunk]:
        """Stop handing out ``job`` (its model failed); returns the chunks it still had queued."""
        return list(self._queues.pop(job, ()))

    def drain(self) -> list[Chunk]:
        """Every chunk still queued (no replica is left to answer them)."""
        return [chunk for job in list(self._queues) for chunk in self.drop(job)]
