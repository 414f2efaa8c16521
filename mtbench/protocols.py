"""Which protocol runs a bench: MT-bench's own (FastChat's), or a bench's that its files call for.

The commands ask ``protocol_for(layout)`` once and hand the whole step to the protocol it returns; None
means MT-bench's protocol, the commands' own code. A protocol is chosen by the files in the bench folder
(MT-Bench-101: its dialogue file), never by the bench's name, so a copy of a bench under another name
runs the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from mtbench.core.answer_file import pick_questions, select_questions
from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.records import Answer, Question

if TYPE_CHECKING:
    from mtbench.gen_judgment.config import JudgeConfig
    from mtbench.gen_judgment.plan import JudgeWork
    from mtbench.gen_judgment.results import JudgeSummary
    from mtbench.gen_judgment.runner import JudgeEvent
    from mtbench.show_result import ShowConfig


class BenchProtocol(Protocol):
    """How one bench is answered, judged and scored, where that is not MT-bench's way."""

    name: str

    def source(self, layout: BenchLayout) -> str:
        """The file the questions are read from, for messages."""

    def questions(self, layout: BenchLayout) -> list[Question]:
        """What the answer commands ask, in file order; each question says how its history is built
        (``mtbench.core.bench.history_answers``)."""

    def load_work(self, config: JudgeConfig, pending: Mapping[str, Mapping[int, Answer]] | None = None) -> JudgeWork:
        """The judge's matches from the inputs (what ``judge`` runs and ``mtbench run`` plans with);
        ``pending``: answers not generated yet, per model, standing in for the answer file's."""

    def judge(self, config: JudgeConfig, *, dry_run: bool, announce: Callable[[str], None],
              on_event: Callable[[JudgeEvent], None] | None = None) -> JudgeSummary | None:
        """``mtbench judge`` on this bench: plan, tell (to ``on_event`` where given, else ``announce``), judge
        (resumable); None when nothing was run."""

    def show(self, config: ShowConfig) -> str:
        """``mtbench show`` on this bench: the rendered tables (``config.format``)."""


def protocol_for(layout: BenchLayout) -> BenchProtocol | None:
    """The protocol the bench folder's files call for; None for MT-bench's own."""
    from mtbench.mt_bench_101.protocol import MtBench101

    for protocol in (MtBench101(),):
        if protocol.present(layout):
            return protocol
    return None


def refuse_protocol(protocol: BenchProtocol | None, layout: BenchLayout, command: str) -> None:
    """A one-line UserError (exit 2) where ``command`` reads MT-bench's tables only and the bench has a
    protocol of its own: its tables are ``mtbench show``'s."""
    if protocol is not None:
        raise UserError(f"mtbench {command} does not know {layout.bench_name} (scored by the {protocol.name} "
                        f"protocol) yet: its tables are `mtbench show --bench-name {layout.bench_name}`")


def bench_questions(layout: BenchLayout, begin: int | None, end: int | None, per_category: int | None) -> list[Question]:
    """The questions the answer commands ask: the slice [begin, end), then the first ``per_category`` of each
    category (of each task, MT-Bench-101), from whichever file the bench's protocol reads."""
    protocol = protocol_for(layout)
    if protocol is None:
        return select_questions(layout.question_file, begin, end, per_category)
    from pathlib import Path

    return pick_questions(protocol.questions(layout), Path(protocol.source(layout)), begin, end, per_category)
