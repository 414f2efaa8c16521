"""From judge calls to records, and a run's summary: what was judged, what failed and why, what it cost."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mtbench.core.client import ChatResult
from mtbench.core.cost import format_usd
from mtbench.core.rate_limit import rate_limit_line
from mtbench.core.reasoning import SplitReply, merge_reasoning, split_reasoning
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.core.runner import Level, Outcome
from mtbench.gen_judgment.failures import check_failure_rate, failure_kind, record_reasons
from mtbench.gen_judgment.matches import Match, PairMatch, SingleMatch, sample_seed
from mtbench.gen_judgment.provenance import RunProvenance, sample_fields
from mtbench.gen_judgment.verdicts import game_winner, parse_rating, parse_verdict

NO_VERDICT_KINDS = ("unparseable", "empty reply")  # failure kinds (``failure_kind``) of a reply with no verdict
NO_PAIR_VERDICT = "unparseable: no [[A]]/[[B]]/[[C]] verdict in the judge's reply"
CUT_WHILE_REASONING = "unparseable: the judge's reply ended inside its reasoning (give a larger --max-tokens)"


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
    reasoning_tokens: int | None = None  # of the completion tokens; None where the judge reported none
    rate_limited: int = 0  # requests answered 429
    waited_s: float = 0.0  # wall time sends were held back for the provider's rate limits
    forced: int = 0  # judge replies without a verdict whose verdict was forced (--force-verdict)
    local: bool = False  # a local judge (--judge-model-path): generations in this process, no API, no bill
    replies: int = 0  # judge replies in the records written (a pair's two games are two); the failure rate's base

    @property
    def failed_replies(self) -> int:
        """Replies without a verdict (no [[...]] in it, or nothing at all): what the judge could not do.
        A refused request (HTTP 400) or a failed batch is no reply of the judge's, and not counted here."""
        return sum(n for kind, n in self.failures.items() if kind in NO_VERDICT_KINDS)

    @property
    def failure_rate(self) -> float:
        """The share of this run's recorded replies that carry no verdict (0 when none was recorded)."""
        return self.failed_replies / self.replies if self.replies else 0.0

    def check_failure_rate(self, max_rate: float, judge_model: str) -> None:
        """``JudgeCannotJudge`` (exit 1, one line) when more than ``max_rate`` of the replies had no verdict;
        called after the summary is shown, so the user sees the counts behind the line."""
        check_failure_rate(self.failed_replies, self.replies, max_rate, judge_model)

    def describe(self) -> str:
        # Reasoning tokens are part of the completion tokens (OpenAI, vLLM, DeepSeek) and priced as output.
        reasoning = f" (of which {self.reasoning_tokens:,} reasoning)" if self.reasoning_tokens is not None else ""
        tokens = f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens{reasoning}"
        done = f"judged {self.written} match(es) in {self.elapsed_s:.1f}s"
        lines = [
            f"{done}: {self.calls} generation(s) by the local judge, {tokens}, no API calls and no cost"
            if self.local else
            f"{done}: {self.calls} API calls ({self.attempts} attempts), {tokens}, cost {format_usd(self.cost)}",
        ]
        if line := rate_limit_line(self.rate_limited, self.waited_s):
            lines.append(line)
        if self.forced:
            lines.append(f"forced verdicts: {self.forced} reply(ies) had no verdict; their verdict is the judge's most "
                         "probable one after a fixed text (recorded with verdict_forced: true)")
        lines += _section(
            self.failures, "failed: {n} judge call(s) gave no verdict (recorded with score null / winner \"error\" "
            "and the reason; rerun with --retry-failed to judge them again):",
        )
        lines += _section(
            self.unanswered, "not judged: {n} match(es) got no answer from the judge after every retry "
            "(nothing written for them; rerun the same command to judge them):",
        )
        return "\n".join(lines)


def _section(counts: Mapping[str, int], header: str) -> list[str]:
    """A header with the total, then one line per reason, most frequent first; nothing when none."""
    total = sum(counts.values())
    if not total:
        return []
    return [header.format(n=total)] + [f"  {n} x {reason}" for reason, n in sorted(counts.items(), key=lambda x: -x[1])]


def match_outcome(
    match: Match, results: Sequence[ChatResult], temperature: float, max_tokens: int,
    provenance: RunProvenance | None = None, forced: Mapping[int, float] | None = None,
) -> Outcome:
    """What the calls of one match come to, for the runner: its record (None when the judge never
    answered: such a match is not recorded, so a rerun judges it) and how it ended.

    The record carries its sample index and seed (a run of several samples), with ``provenance`` what
    produced it (``RunProvenance.fields``), and with ``forced`` (game number -> the forced option's
    probability, ``--force-verdict``) ``verdict_forced: true``."""
    failed = [r for r in results if r.failure is not None]
    if any(r.level is Level.TRANSPORT for r in failed):
        return Outcome(None, Level.TRANSPORT, next(r.error for r in failed if r.level is Level.TRANSPORT), results)
    record = (
        single_record(match, results[0], temperature, max_tokens) if isinstance(match, SingleMatch)
        else pair_record(match, results[0], results[1], temperature, max_tokens)
    )
    added = {**sample_fields(match), **(provenance.fields(match, results) if provenance is not None else {}),
             **forced_fields(match, forced or {})}
    if added:
        record = replace(record, extra={**record.extra, **added})
    if failed:
        return Outcome(record, Level.REQUEST, failed[0].error, results)
    if record.error is not None:
        return Outcome(record, Level.VERDICT, record.error, results)
    return Outcome(record, calls=results)


def forced_fields(match: Match, forced: Mapping[int, float]) -> dict[str, Any]:
    """``verdict_forced`` and each forced game's option probability (``forced_probability``; a pair's
    ``g1_``/``g2_forced_probability``); nothing for a match whose verdicts the judge wrote itself."""
    if not forced:
        return {}
    if isinstance(match, SingleMatch):
        return {"verdict_forced": True, "forced_probability": round(forced[1], 4)}
    return {"verdict_forced": True, **{f"g{game}_forced_probability": round(p, 4) for game, p in sorted(forced.items())}}


def record_failure_kinds(record: SingleJudgment | PairJudgment) -> list[str]:
    """The failure kinds in a record, one per failed call, for the summary's counts."""
    return [failure_kind(reason) for reason in record_reasons(record)]


def _call_extra(result: ChatResult) -> dict[str, Any]:
    extra = result.usage()
    if result.model:
        extra["model"] = result.model
    return extra


def judge_reply(result: ChatResult) -> SplitReply:
    """The judge's final content apart from its reasoning (inline tags, or the reply's reasoning field):
    the verdict is read from the content only, so a score the judge weighed while thinking is no verdict.
    A reply with no reasoning is its text, unchanged."""
    return merge_reasoning(result.reasoning, split_reasoning(result.text))


def _verdict_text(reply: SplitReply, finish_reason: str | None) -> tuple[str, str | None]:
    """The text to read a verdict from, and the error to record where a reply cut while reasoning has none."""
    cut = reply.cut or (finish_reason == "length" and reply.reasoning is not None)
    return reply.answer, CUT_WHILE_REASONING if cut and not reply.answer.strip() else None


def _sent_params(
    extra: dict[str, Any], results: Sequence[ChatResult], temperature: float, max_tokens: int, seed: int | None
) -> None:
    """Record the fields sent (``judge_params``) where they are not the record's temperature and max_tokens
    (and its sample's seed): an adapted reasoning judge, an endpoint that refused the seed, or
    ``--judge-extra-body``. A plain judge's record is as it always was."""
    plain = {"temperature": temperature, "max_tokens": max_tokens, **({} if seed is None else {"seed": seed})}
    sent = [dict(r.params) for r in results if r.params is not None]
    if any(p != plain for p in sent):
        extra["judge_params"] = sent[0]
        if any(p != sent[0] for p in sent[1:]):
            extra["g2_judge_params"] = sent[1]


def single_record(match: SingleMatch, result: ChatResult, temperature: float, max_tokens: int) -> SingleJudgment:
    """The judgment record of one call: the score, or None with the reason."""
    score = error = None
    reply = judge_reply(result)
    if result.ok:
        text, error = _verdict_text(reply, result.finish_reason)
        score = parse_rating(text)
        if score is None and error is None:
            error = "unparseable: no [[rating]] in the judge's reply"
    else:
        error = result.error
    extra: dict[str, Any] = {
        "judge_call": _call_extra(result),
        "reference": match.reference,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    _sent_params(extra, [result], temperature, max_tokens, sample_seed(match.sample))
    if reply.reasoning is not None:
        extra["judge_reasoning"] = reply.reasoning
    if match.language is not None:  # the bench's language, and the judged turn's (null: too little prose to tell)
        extra["expected_language"], extra["answer_language"] = match.language
    return SingleJudgment(
        question_id=match.question_id, model=match.model, judge=match.judge,
        user_prompt=match.user_prompt, judgment=reply.answer, score=score, turn=match.turn,
        tstamp=time.time(), error=error, extra=extra,
    )


def pair_record(
    match: PairMatch, g1: ChatResult, g2: ChatResult, temperature: float, max_tokens: int
) -> PairJudgment:
    """The record of both games; a game with no verdict has winner "error" and its reason in ``error``."""
    winners, errors = [], []
    replies = (judge_reply(g1), judge_reply(g2))
    for game, result, reply in ((1, g1, replies[0]), (2, g2, replies[1])):
        if result.ok:
            text, cut = _verdict_text(reply, result.finish_reason)
            verdict = parse_verdict(text, match.prompt.output_format)
            winners.append(game_winner(verdict, game))
            if verdict is None:
                errors.append(f"game {game}: {cut or NO_PAIR_VERDICT}")
        else:
            winners.append("error")
            errors.append(f"game {game}: {result.error}")
    extra: dict[str, Any] = {
        "g1_judge_call": _call_extra(g1),
        "g2_judge_call": _call_extra(g2),
        "reference": match.reference,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    _sent_params(extra, [g1, g2], temperature, max_tokens, sample_seed(match.sample))
    for side, reply in (("g1", replies[0]), ("g2", replies[1])):
        if reply.reasoning is not None:
            extra[f"{side}_judge_reasoning"] = reply.reasoning
    return PairJudgment(
        question_id=match.question_id, model_1=match.model_1, model_2=match.model_2,
        g1_winner=winners[0], g2_winner=winners[1], judge=match.judge,
        g1_user_prompt=match.g1_user_prompt, g1_judgment=replies[0].answer,
        g2_user_prompt=match.g2_user_prompt, g2_judgment=replies[1].answer,
        turn=match.turn, tstamp=time.time(), error="; ".join(errors) or None, extra=extra,
    )


def replies_seen(records: Iterable[SingleJudgment | PairJudgment]) -> list[int]:
    """The completion tokens of every judge reply recorded in an output file (the calls that reported them)."""
    seen = []
    for record in records:
        for key in ("judge_call", "g1_judge_call", "g2_judge_call"):
            tokens = (record.extra.get(key) or {}).get("completion_tokens")
            if isinstance(tokens, int) and tokens > 0:
                seen.append(tokens)
    return seen
