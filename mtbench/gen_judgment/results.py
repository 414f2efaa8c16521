"""From judge calls to records, and a run's summary: what was judged, what failed and why, what it cost."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mtbench.client import ChatResult
from mtbench.cost import format_usd
from mtbench.gen_judgment.failures import failure_kind, is_transport_failure, record_reasons
from mtbench.gen_judgment.matches import PairMatch, SingleMatch
from mtbench.gen_judgment.verdicts import game_winner, parse_rating, parse_verdict
from mtbench.records import PairJudgment, SingleJudgment


@dataclass(frozen=True)
class JudgeSummary:
    written: int
    failures: Mapping[str, int]  # kind -> count, over written records (verdict-level failures)
    unanswered: Mapping[str, int]  # kind -> count, over matches whose call never got an answer (not written)
    calls: int
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    elapsed_s: float

    def describe(self) -> str:
        lines = [
            f"judged {self.written} match(es) in {self.elapsed_s:.1f}s: {self.calls} API calls "
            f"({self.attempts} attempts), {self.prompt_tokens:,} prompt + {self.completion_tokens:,} "
            f"completion tokens, cost {format_usd(self.cost)}",
        ]
        failed = sum(self.failures.values())
        if failed:
            lines.append(
                f"failed: {failed} judge call(s) gave no verdict (recorded with score null / winner \"error\" "
                "and the reason; rerun with --retry-failed to judge them again):"
            )
            lines += _counts(self.failures)
        left = sum(self.unanswered.values())
        if left:
            lines.append(
                f"not judged: {left} match(es) got no answer from the judge after every retry (nothing written "
                "for them; rerun the same command to judge them):"
            )
            lines += _counts(self.unanswered)
        return "\n".join(lines)


def _counts(counts: Mapping[str, int]) -> list[str]:
    return [f"  {n} x {reason}" for reason, n in sorted(counts.items(), key=lambda x: -x[1])]


def unanswered_reason(results: tuple[ChatResult, ...]) -> str | None:
    """Why a match got no answer from the judge (a transport failure of any of its calls), else None.

    Such a match is not recorded: a record would read as a judgment a rerun skips.
    """
    for result in results:
        if result.error is not None and is_transport_failure(result.error):
            return result.error
    return None


def record_failure_kinds(record: SingleJudgment | PairJudgment) -> list[str]:
    """The failure kinds in a record, one per failed call, for the summary's counts."""
    return [failure_kind(reason) for reason in record_reasons(record)]


def _call_extra(result: ChatResult) -> dict[str, Any]:
    extra = result.usage()
    if result.model:
        extra["model"] = result.model
    return extra


def single_record(match: SingleMatch, result: ChatResult, temperature: float, max_tokens: int) -> SingleJudgment:
    """The judgment record of one call: the score, or None with the reason."""
    score = error = None
    if result.text is not None and result.error is None:
        score = parse_rating(result.text)
        if score is None:
            error = "unparseable: no [[rating]] in the judge's reply"
    else:
        error = result.error
    extra = {
        "judge_call": _call_extra(result),
        "reference": match.reference,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    return SingleJudgment(
        question_id=match.question_id, model=match.model, judge=match.judge,
        user_prompt=match.user_prompt, judgment=result.text or "", score=score, turn=match.turn,
        tstamp=time.time(), error=error, extra=extra,
    )


def pair_record(
    match: PairMatch, g1: ChatResult, g2: ChatResult, temperature: float, max_tokens: int
) -> PairJudgment:
    """The record of both games; a game with no verdict has winner "error" and its reason in ``error``."""
    winners, errors = [], []
    for game, result in ((1, g1), (2, g2)):
        if result.text is not None and result.error is None:
            verdict = parse_verdict(result.text, match.prompt.output_format)
            winners.append(game_winner(verdict, game))
            if verdict is None:
                errors.append(f"game {game}: unparseable: no [[A]]/[[B]]/[[C]] verdict in the judge's reply")
        else:
            winners.append("error")
            errors.append(f"game {game}: {result.error}")
    extra = {
        "g1_judge_call": _call_extra(g1),
        "g2_judge_call": _call_extra(g2),
        "reference": match.reference,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    return PairJudgment(
        question_id=match.question_id, model_1=match.model_1, model_2=match.model_2,
        g1_winner=winners[0], g2_winner=winners[1], judge=match.judge,
        g1_user_prompt=match.g1_user_prompt, g1_judgment=g1.text or "",
        g2_user_prompt=match.g2_user_prompt, g2_judgment=g2.text or "",
        turn=match.turn, tstamp=time.time(), error="; ".join(errors) or None, extra=extra,
    )
