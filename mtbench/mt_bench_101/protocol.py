"""MT-Bench-101's ``BenchProtocol`` (``mtbench.protocols``): what gen-api-answer, gen-answer, judge and show
do when the bench folder holds MT-Bench-101's files."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from mtbench.core.bench import BenchLayout, Mode
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError
from mtbench.core.record_files import load_single_judgments
from mtbench.core.records import Answer, Question
from mtbench.mt_bench_101.data import PROMPT_FILE, dialogue_file, is_present, load_dialogues, load_prompts
from mtbench.mt_bench_101.scores import ModelScores, dialogue_scores, model_scores, turn_scores

if TYPE_CHECKING:
    from mtbench.gen_judgment.config import JudgeConfig
    from mtbench.gen_judgment.plan import JudgeWork
    from mtbench.gen_judgment.results import JudgeSummary
    from mtbench.gen_judgment.runner import JudgeEvent
    from mtbench.show_result import ShowConfig


class MtBench101:
    name = "mt_bench_101"

    @staticmethod
    def present(layout: BenchLayout) -> bool:
        return is_present(layout)

    def source(self, layout: BenchLayout) -> str:
        return str(dialogue_file(layout))

    def questions(self, layout: BenchLayout) -> list[Question]:
        return [d.question() for d in load_dialogues(dialogue_file(layout))]

    def load_work(self, config: JudgeConfig, pending: Mapping[str, Mapping[int, Answer]] | None = None) -> JudgeWork:
        from mtbench.mt_bench_101.judging import load_work

        return load_work(config, pending)

    def judge(self, config: JudgeConfig, *, dry_run: bool, announce: Callable[[str], None],
              on_event: Callable[[JudgeEvent], None] | None = None) -> JudgeSummary | None:
        from mtbench.gen_judgment.runner import judge

        return judge(config, dry_run=dry_run, announce=announce, on_event=on_event, load=self.load_work)

    def show(self, config: ShowConfig) -> str:
        return render(scores_of(config), config.format, config.confidence)


def scores_of(config: ShowConfig) -> list[ModelScores]:
    """Each model's tables from the judge's file (``--input-file``, else the judge's single file)."""
    from mtbench.mt_bench_101.judging import PROMPT_PREFIX, judged_turns

    if config.mode != Mode.SINGLE.value:
        raise ConfigError("{mode} " + f"{config.mode}: MT-Bench-101 is scored per turn (single mode only)")
    for name in ("compare", "plot", "control"):  # MT-bench's tables only: refused, never silently ignored
        if getattr(config, name):
            raise ConfigError("{" + name + "} is not available for MT-Bench-101's tables")
    layout = config.layout
    path = config.judgment_file or layout.single_judgment_file(config.judge_model)
    if not path.is_file():
        raise UserError(f"{path}: no such file (judge first: mtbench judge --bench-name {layout.bench_name})")
    records = [r for r in load_single_judgments(path) if r.judge[1].startswith(PROMPT_PREFIX)]
    if not records:
        raise UserError(f"{path}: no MT-Bench-101 judgments (prompt names {PROMPT_PREFIX}TASK)")
    prompts = load_prompts(layout.bench_dir / PROMPT_FILE)
    dialogues = {d.dialogue_id: d for d in load_dialogues(dialogue_file(layout))}
    turns = turn_scores(records)
    models = list(dict.fromkeys(config.model_list)) if config.model_list else sorted({m for m, _ in turns})
    out = []
    for model in models:
        by_task: dict[str, list[float]] = defaultdict(list)
        incomplete = 0
        for (m, qid), scored in sorted(turns.items()):
            if m != model:
                continue
            d = dialogues.get(qid)
            if d is None:
                raise UserError(f"{path}: dialogue {qid} is not in {dialogue_file(layout)}")
            score = dialogue_scores(scored, judged_turns(d, prompts))
            if score is None:
                incomplete += 1
            else:
                by_task[d.task].append(score)
        if not by_task and not incomplete:
            raise UserError(f"{path}: no judgments of model {model!r}")
        out.append(model_scores(model, by_task, incomplete, config.n_bootstrap, config.seed, config.confidence))
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(tables: Sequence[ModelScores], fmt: str, confidence: float) -> str:
    """The tables as text (``table``, ``markdown``), ``csv`` or ``json``."""
    ci = f"{round(confidence * 100)}% CI"
    if fmt == "json":
        return json.dumps([{"model": t.model, "dialogues": t.dialogues, "incomplete": t.incomplete,
                            "rows": [r.__dict__ for r in t.rows]} for t in tables], indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["model", "kind", "name", "score", "ci_low", "ci_high", "dialogues"])
        for t in tables:
            for r in t.rows:
                w.writerow([t.model, r.kind, r.name, *("" if v is None else round(v, 4) for v in (r.score, r.low, r.high)),
                            r.dialogues])
        return buf.getvalue()
    head = ["", "", "score", ci, "dialogues"]
    lines = []
    for t in tables:
        body = [[r.kind, f"{r.name} ({r.label})" if r.kind != "overall" else r.name, _num(r.score),
                 "-" if r.low is None else f"[{r.low:.2f}, {r.high:.2f}]", str(r.dialogues)] for r in t.rows]
        title = (f"MT-Bench-101, {t.model}: {t.dialogues} dialogue(s) scored (lowest judged turn)"
                 + (f", {t.incomplete} left out (a turn not judged or failed)" if t.incomplete else ""))
        if fmt == "markdown":
            lines += [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(row) + " |" for row in body]
        else:
            widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
            lines += [title] + ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                                for row in [head, *body]]
        lines.append("")
    return "\n".join(lines)
