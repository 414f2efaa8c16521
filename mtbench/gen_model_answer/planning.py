"""Which replica answers which questions, in which chunks (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from mtbench.records import Question

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
