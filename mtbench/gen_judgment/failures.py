"""What a failed judge call is: its kind (for counting) and whether a plain rerun tries it again (pure).

Two sorts of failure, kept apart because a rerun treats them differently:

- the judge answered, but no verdict came of it (an unparseable reply, an empty reply, a 400 for this
  prompt): asking again the same way gives the same answer, so the record is kept and counts as done
  (``--retry-failed`` asks again);
- the call never got an answer (connection refused or dropped, timeouts, 429/5xx, a malformed body,
  each after every retry): that says nothing about the match, so no record is written and a plain rerun
  judges it. Files written before this rule may hold such records; resume treats them as not done.
"""

from __future__ import annotations

from mtbench.records import PairJudgment, SingleJudgment

# How the client (mtbench.client) spells a failure it retried and gave up on, and the two transport
# failures whose wording carries no status code.
_GAVE_UP = "(gave up after "
_TRANSPORT_KINDS = ("connection failed", "timed out")


def failure_kind(reason: str) -> str:
    """A reason without its details, for counting: 'HTTP 500', 'timed out', 'unparseable', ..."""
    head = reason.split(":", 1)[0].split(" (", 1)[0]
    return "timed out" if head.startswith("timed out") else head


def is_transport_failure(reason: str) -> bool:
    """Whether a call's failure reason means the judge never answered (see the module docstring)."""
    if _GAVE_UP in reason:
        return True
    kind = failure_kind(reason)
    if kind in _TRANSPORT_KINDS:
        return True
    status = kind.removeprefix("HTTP ")
    return status != kind and status.isdigit() and (int(status) >= 500 or int(status) in (408, 409, 429))


def record_reasons(record: SingleJudgment | PairJudgment) -> list[str]:
    """The failure reasons in a record: none, one, or one per failed game ("game 1: X; game 2: Y")."""
    if record.error is None:
        return []
    if isinstance(record, SingleJudgment):
        return [record.error]
    return [part.split(": ", 1)[-1] for part in record.error.split("; game ")]


def kept_as_done(record: SingleJudgment | PairJudgment) -> bool:
    """Whether a record on disk is a judgment a plain rerun skips: a success, or a verdict-level failure."""
    return not any(is_transport_failure(reason) for reason in record_reasons(record))
