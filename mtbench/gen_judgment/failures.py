"""What a failed judge call is: its kind (for counting) and whether a plain rerun tries it again (pure).

A call's failure has a level (``ChatResult.level``, the runner's ``Level``), and the level decides:

- TRANSPORT (the endpoint never answered: connection refused, closed or dropped, timeouts, 429/5xx after
  every retry) says nothing about the match: no record is written, so a plain rerun judges it;
- REQUEST (the endpoint refused this prompt: a 400, a malformed or empty reply after every retry) and
  VERDICT (a reply with no verdict in it) are recorded with the reason and count as done: asking again
  the same way gives the same answer (``--retry-failed`` asks again).

Files written before that rule may hold transport failures as records; ``kept_as_done`` tells them by
the reason the client wrote then, so a rerun judges those too.
"""

from __future__ import annotations

from mtbench.core.chat_result import failure_kind, is_transport_failure
from mtbench.core.options import ConfigError
from mtbench.core.records import PairJudgment, SingleJudgment

__all__ = ["JudgeCannotJudge", "check_failure_rate", "failure_kind", "is_transport_failure", "kept_as_done",
           "record_reasons"]

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


class JudgeCannotJudge(ConfigError):
    """Too many of a run's judge replies carry no verdict (``--max-failure-rate``): the run did its work
    and its records are kept, but its scores would rest on a few matches. A ConfigError so the line names
    the flag as the user typed it (``--max-failure-rate``, also under `mtbench run`), exit 1: the run
    failed, the flags were not wrong."""

    exit_code = 1


def check_failure_rate(failed: int, replies: int, max_rate: float, judge_model: str) -> None:
    """Raise ``JudgeCannotJudge`` when ``failed`` of ``replies`` is more than ``max_rate``."""
    if not replies or failed / replies <= max_rate:
        return
    raise JudgeCannotJudge(
        f"{judge_model} gave no verdict in {failed} of {replies} replies ({failed / replies:.0%}), more than "
        f"{{max_failure_rate}} {max_rate:g}: try a stronger judge, or {{force_verdict}} with a judge that "
        "exposes log-probabilities (a local judge, or a vLLM server)"
    )
