"""`mtbench run`'s configuration: the configs of the separate commands, narrowed to the run's models."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mtbench.core.bench import BenchLayout, Mode
from mtbench.pipeline.sources import AnswerSource, answer_source

if TYPE_CHECKING:
    from mtbench.download import DownloadConfig
    from mtbench.gen_api_answer import ApiAnswerConfig
    from mtbench.gen_judgment import JudgeConfig
    from mtbench.gen_model_answer import GenAnswerRuns
    from mtbench.report import ReportConfig
    from mtbench.show_result import ShowConfig


@dataclass(frozen=True)
class RunConfig:
    """One `mtbench run`: answers (a local model, or one behind an endpoint), then judge, show, report.

    Each step's config is the one its own command would build from the same flags. Built, it narrows
    them to the run (the only fact it adds): unless ``--model-list`` says otherwise the judge and the
    tables take the run's models (every answer file in pairwise-all, where the others are the
    opponents), and a question slice starting at the first question is judged up to its end
    (``--first-n``), so the judge plans no match for an answer the run never asks for.
    """

    download: DownloadConfig
    answers: GenAnswerRuns | ApiAnswerConfig
    judge: JudgeConfig
    show: ShowConfig
    report: ReportConfig | None = None
    dry_run: bool = False
    # Where the answers come from, made from ``answers``: what the run asks of the answer step.
    source: AnswerSource = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", answer_source(self.answers))
        if self.layout != self.judge.layout:
            raise ValueError("the answer and judge steps must share one data folder")
        judge = self.judge
        if judge.model_list is None and judge.mode is not Mode.PAIRWISE_ALL:
            judge = dataclasses.replace(judge, model_list=self.model_ids)
        begin, end = self.source.question_slice
        if judge.first_n is None and not begin and end is not None and end > 0:
            judge = dataclasses.replace(judge, first_n=end)
        object.__setattr__(self, "judge", judge)
        show = self.show
        if show.model_list is None:
            show = dataclasses.replace(show, model_list=judge.model_list)
        object.__setattr__(self, "show", show)

    @property
    def layout(self) -> BenchLayout:
        return self.source.layout

    @property
    def model_ids(self) -> tuple[str, ...]:
        return self.source.model_ids

    @property
    def answer_files(self) -> tuple[Path, ...]:
        return self.source.answer_files

    def narrowed_to(self, model_ids: tuple[str, ...]) -> RunConfig:
        """The run for the models whose answers it has (a model whose answer step failed is neither judged
        nor shown), where the run chose the models."""
        if self.judge.model_list != self.model_ids or model_ids == self.model_ids:
            return self
        show = self.show
        if show.model_list == self.model_ids:
            show = dataclasses.replace(show, model_list=model_ids)
        return dataclasses.replace(self, judge=dataclasses.replace(self.judge, model_list=model_ids), show=show)
