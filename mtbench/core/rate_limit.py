"""Concurrency that adapts to a provider's rate limits: the one place every API call waits its turn.

A ``RateController`` sits in the client (``ChatClient``), so judge and gen-api-answer share it. It
keeps requests in flight so the provider's window is used and not exceeded:

- **Pacing from headers.** OpenAI-style ``x-ratelimit-limit/remaining/reset-requests`` and
  ``-tokens`` headers feed a client-side mirror of the provider's two buckets (requests, tokens):
  each send debits them, they refill at the rate the headers imply (what was used over the time to
  reset), and a reply saying less is left than we thought wins. A send that would overdraw a bucket
  waits until it would not. Senders queue behind one lock, so the run waits once, not once per request.
- **429s where there are no headers.** Additive increase / multiplicative decrease of the in-flight
  limit (ceiling ``--parallel``), and one shared pause for the whole run (``Retry-After``, else the
  reset header, else a second), taken once per burst rather than once per request.

The counts (``rate_limited``: requests answered 429; ``waited_s``: wall time sends were held back)
go into the end-of-run summary.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
# A 429 that says nothing about when to come back pauses the run this long.
DEFAULT_PAUSE_S = 1.0
# Below this share of the bucket used, (limit - remaining) / reset is too coarse to be a rate.
_MIN_USED_FOR_RATE = 0.1


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1.5s", "1h2m3s") or plain seconds, in seconds.

    None where the text is missing or not a duration.
    """
    if not text:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            return None
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


@dataclass
class Bucket:
    """The client's mirror of one provider bucket (requests or tokens); unknown until a reply says."""

    kind: str  # "requests" / "tokens": the header suffix
    capacity: float | None = None
    level: float = 0.0
    rate: float | None = None  # refill per second
    stamp: float = 0.0
    spent: float = 0.0  # everything debited so far: what a reply's "remaining" has not seen yet is the rest

    def refill(self, now: float) -> None:
        if self.capacity is not None and self.rate:
            self.level = min(self.capacity, self.level + self.rate * (now - self.stamp))
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` (at most a full bucket) is there; 0 when it is or nothing is known."""
        if self.capacity is None:
            return 0.0
        short = min(amount, self.capacity) - self.level
        if short <= 0:
            return 0.0
        return short / self.rate if self.rate else DEFAULT_PAUSE_S

    def debit(self, amount: float) -> None:
        amount = min(amount, self.capacity) if self.capacity is not None else amount
        self.level -= amount
        self.spent += amount

    def observe(self, headers: Mapping[str, str], now: float, sent_at: float, spent_then: float) -> None:
        """Resync from a reply: ``remaining`` is what the provider had when it counted that request,
        so what is left now adds the refill since and takes off our sends since."""
        limit = _number(headers.get(f"x-ratelimit-limit-{self.kind}"))
        remaining = _number(headers.get(f"x-ratelimit-remaining-{self.kind}"))
        if limit is None or remaining is None or limit <= 0:
            return
        self.refill(now)
        reset = parse_duration(headers.get(f"x-ratelimit-reset-{self.kind}"))
        used = limit - remaining
        if reset and used >= max(2.0, _MIN_USED_FOR_RATE * limit):
            self.rate = (used - 1) / reset  # "remaining" is rounded down: up to one more was used than it says
        elif self.rate is None:
            self.rate = limit / 60.0  # the headers' limits are per minute
        self.capacity = limit
        # The provider counted the request somewhere between its send and its reply; assuming the
        # midpoint costs a constant offset (never throughput) and covers the time it spent on our side.
        refilled = remaining + (self.rate or 0.0) * max(0.0, now - sent_at) / 2
        self.level = min(limit, refilled) - (self.spent - spent_then)


@dataclass(frozen=True)
class Ticket:
    """One send: when it left, and what both buckets had spent by then (its own share included)."""

    sent_at: float
    spent: tuple[float, float]


@dataclass
class RateController:
    """Decides when each request may be sent; shared by every call of one client (one run)."""

    ceiling: int = 256  # the in-flight limit never goes above this (--parallel)
    # A 429 that says nothing about when to come back pauses the run base_pause, doubling for each
    # burst in a row with no success between, up to max_pause (the client's retry policy's delays).
    base_pause: float = DEFAULT_PAUSE_S
    max_pause: float = 60.0
    clock: object = field(default=time.monotonic, repr=False)
    rate_limited: int = 0  # requests answered 429
    waited_s: float = 0.0  # wall time sends were held back (pauses and pacing)

    def __post_init__(self) -> None:
        self.limit = float(max(1, self.ceiling))
        self.in_flight = 0
        self._answered = False  # until a first reply tells the limits (or that there are none), one at a time
        self.buckets = (Bucket("requests"), Bucket("tokens"))
        self._paused_until = 0.0
        self._last_cut = -math.inf  # when the in-flight limit was last halved
        self._bursts = 0  # 429 bursts since the last success
        self._slots = asyncio.Condition()
        self._pace = asyncio.Lock()

    def _now(self) -> float:
        return self.clock()  # type: ignore[operator]

    async def acquire(self, tokens: int) -> Ticket:
        """Wait for a slot, the shared pause, and room in both buckets; debit them. ``release`` after."""
        async with self._slots:
            await self._slots.wait_for(lambda: self.in_flight < (int(self.limit) if self._answered else 1))
            self.in_flight += 1
        try:
            async with self._pace:  # one queue: the run waits once for the window, in order
                while True:
                    now = self._now()
                    for bucket in self.buckets:
                        bucket.refill(now)
                    wait = max(self._paused_until - now, self.buckets[0].wait_for(1),
                               self.buckets[1].wait_for(tokens))
                    if wait <= 0:
                        break
                    await asyncio.sleep(wait)
                    self.waited_s += wait
                self.buckets[0].debit(1)
                self.buckets[1].debit(tokens)
                return Ticket(now, (self.buckets[0].spent, self.buckets[1].spent))
        except BaseException:
            await self.release()
            raise

    async def release(self) -> None:
        async with self._slots:
            self._answered = True
            self.in_flight -= 1
            self._slots.notify_all()

    def observe(self, status: int | None, headers: Mapping[str, str] | None, ticket: Ticket,
                retry_after: float | None = None) -> None:
        """Learn from one reply: its rate-limit headers, and whether it was a 429 (then back off once)."""
        now = self._now()
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        for bucket, spent in zip(self.buckets, ticket.spent, strict=True):
            bucket.observe(headers, now, ticket.sent_at, spent)
        if status != 429:
            if status is not None and status < 400:
                self._bursts = 0
                self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            return
        self.rate_limited += 1
        if ticket.sent_at > self._last_cut:  # a request sent before the last cut is part of the same burst
            self._last_cut = now
            self._bursts += 1
            self.limit = max(1.0, self.limit / 2)
        pause = retry_after
        if pause is None:
            resets = [parse_duration(headers.get(f"x-ratelimit-reset-{b.kind}")) for b in self.buckets]
            pause = max((r for r in resets if r is not None),
                        default=self.base_pause * 2 ** max(0, self._bursts - 1))
        self._paused_until = max(self._paused_until, now + min(pause, self.max_pause))


def rate_limit_line(rate_limited: int, waited_s: float) -> str | None:
    """An end-of-run summary's rate-limit line, or None when the provider's limits never held a request back."""
    if not rate_limited and waited_s < 0.05:
        return None
    return f"rate limits: {rate_limited} request(s) answered 429; {waited_s:.1f}s waiting for the provider's window"
