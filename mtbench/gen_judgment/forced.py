"""Forced verdicts (``--force-verdict``, a local judge only): when a reply has no verdict, the judge's
most probable verdict after a fixed text (pure; the ranking itself is ``LocalChatBackend.rank``).

Small local judges often write no ``[[rating]]``. The reply is continued with ``\\n\\nRating: [[`` and each
of ``1]]`` .. ``10]]`` is ranked as the continuation (the closing brackets are part of every option, so
``1`` is not favoured for being a prefix of ``10``); pairwise, ``\\n\\nVerdict: [[`` and ``A]]``/``B]]``/
``C]]``. The forced text is appended to the reply, so the record's judgment shows exactly what was read
and the usual parser reads it; the record says ``verdict_forced: true`` with the option's probability.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from mtbench.core.chat_result import ChatResult, FailureKind
from mtbench.gen_judgment.matches import Match, SingleMatch
from mtbench.gen_judgment.results import judge_reply
from mtbench.gen_judgment.verdicts import parse_rating, parse_verdict

RATING_PREFIX = "\n\nRating: [["
VERDICT_PREFIX = "\n\nVerdict: [["


@dataclass(frozen=True)
class ForcedChoice:
    """The fixed text that asks for a verdict and the options that may follow it."""

    prefix: str
    options: tuple[str, ...]

    def apply(self, result: ChatResult, probabilities: Sequence[float]) -> tuple[ChatResult, float]:
        """``result`` with the most probable option appended to its reply (a reply now), and that
        option's probability."""
        best = max(range(len(self.options)), key=lambda i: probabilities[i])
        text = result.text + self.prefix + self.options[best]
        forced = dataclasses.replace(result, text=text.lstrip() if not result.text else text, failure=None)
        return forced, probabilities[best]


RATING = ForcedChoice(RATING_PREFIX, tuple(f"{n}]]" for n in range(1, 11)))
VERDICT = ForcedChoice(VERDICT_PREFIX, ("A]]", "B]]", "C]]"))

# What the judge ends when it has written nothing: a reply to continue (other failures are not replies).
_BLANK = (FailureKind.EMPTY, FailureKind.CUT)


def choice_to_force(match: Match, result: ChatResult) -> ForcedChoice | None:
    """The choice to rank for one game of ``match`` whose reply is ``result``, or None where the reply has
    a verdict, is no reply (a failed generation), or ended inside its reasoning (there is nowhere to put a
    verdict), or the prompt's format has no fixed set of verdicts (``[[rating_a,rating_b]]``)."""
    if result.failure is not None and result.failure.kind not in _BLANK:
        return None
    reply = judge_reply(result)
    if reply.cut:
        return None
    if isinstance(match, SingleMatch):
        return RATING if parse_rating(reply.answer) is None else None
    if match.prompt.output_format != "[[A]]":
        return None
    return VERDICT if parse_verdict(reply.answer, "[[A]]") is None else None
