"""Questions, answers, reference answers and judgments of one benchmark, joined for display.

``load_bench_view`` reads a data dir once (FastChat's layout; our files or FastChat's); the methods return
plain JSON-able dicts that the browser page and the static report both draw from. Raw text stays raw
(``text``) next to its safe rendering (``html``, from ``markup.render_markdown``); nothing else here is
ever inserted into a page as markup.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mtbench.core.bench import CATEGORIES, BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_answers, load_pair_judgments, load_questions, load_single_judgments
from mtbench.core.records import Answer, PairJudgment, Question, SingleJudgment, latest_by_key
from mtbench.webview.judges import JudgeFiles, default_judge, find_judges, select_judges
from mtbench.webview.markup import rich
from mtbench.webview.match_view import match_view, winner_name

__all__ = [
    "BenchView",
    "JudgeFiles",
    "find_judges",
    "select_judges",
    "load_bench_view",
    "files_signature",
    "preview",
    "rich",
    "winner_name",
]

log = logging.getLogger("mtbench")


class _Keyed(Protocol):
    @property
    def key(self) -> Any: ...


R = TypeVar("R", bound=_Keyed)
J = TypeVar("J")


@dataclass(frozen=True)
class BenchView:
    layout: BenchLayout
    questions: Mapping[int, Question]
    answers: Mapping[str, Mapping[int, Answer]]  # model -> question_id -> answer
    references: Mapping[str, Mapping[int, Answer]]  # reference set name -> question_id -> answer
    judges: Mapping[str, JudgeFiles]
    # The page asks for "this model's judgment of turn t" without knowing which judge prompt was used,
    # and a record's ``.key`` includes the prompt: so after deduping by ``.key`` the view indexes by
    # (question_id, model, turn), judge -> that -> the last judgment on disk (one prompt per turn).
    single: Mapping[str, Mapping[tuple[int, str, int], SingleJudgment]] = field(default_factory=dict)
    # judge -> (question_id, model, turn) -> every sample's judgment (``--judge-samples``), by sample index
    single_samples: Mapping[str, Mapping[tuple[int, str, int], Sequence[SingleJudgment]]] = field(
        default_factory=dict
    )
    pair: Mapping[str, Sequence[PairJudgment]] = field(default_factory=dict)  # deduped by ``.key``
    # judge -> (question_id, model_1, model_2, turn) -> the last match on disk; the same reason as above
    pair_index: Mapping[str, Mapping[tuple[int, str, str, int], PairJudgment]] = field(default_factory=dict)
    # judge -> question_id -> the reference set its judgments say they were given (mtbench records it)
    recorded_references: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    # model -> why its answer file could not be read (a model not selected is skipped, not fatal)
    unreadable_answers: Mapping[str, str] = field(default_factory=dict)

    # -- lists -------------------------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        """Models with an answer file or a judgment, sorted."""
        judged = {k[1] for by_key in self.single.values() for k in by_key}
        judged |= {m for pairs in self.pair.values() for j in pairs for m in (j.model_1, j.model_2)}
        return sorted(set(self.answers) | judged)

    def categories(self) -> list[str]:
        present = list(dict.fromkeys(q.category for q in self.questions.values()))
        order = self.layout.manifest.category_order() or CATEGORIES  # the bench's own order, else MT-bench's
        return [c for c in order if c in present] + [c for c in present if c not in order]

    def meta(self) -> dict[str, Any]:
        """What the page's selectors offer: judges (with their number of valid judgments, and the one to open
        on), models, and questions by category."""
        valid = {j: self.valid_judgments(j) for j in self.judges}
        return {
            "bench": self.layout.bench_name,
            "data_dir": os.fspath(self.layout.data_dir),
            "judges": [
                {
                    "name": j.judge,
                    "single": j.single is not None and j.judge in self.single,
                    "pair": j.pair is not None and j.judge in self.pair,
                    "pair_models": self.pair_models(j.judge),
                    "first_pair": next(iter(self.pair_opponents(j.judge)), None),
                    "valid": valid[j.judge],
                }
                for j in self.judges.values()
            ],
            "default_judge": default_judge(valid),
            "models": self.models,
            "categories": [
                {
                    "name": c,
                    "questions": [
                        {"id": q.question_id, "preview": preview(q.turns[0])}
                        for q in self.questions.values()
                        if q.category == c
                    ],
                }
                for c in self.categories()
            ],
        }

    def valid_judgments(self, judge: str) -> int:
        """How many of the judge's judgments and matches did not fail."""
        single = sum(not j.failed for j in self.single.get(judge, {}).values())
        return single + sum(not j.failed for j in self.pair.get(judge, ()))

    def pair_models(self, judge: str) -> list[str]:
        return sorted({m for j in self.pair.get(judge, ()) for m in (j.model_1, j.model_2)})

    # -- one question --------------------------------------------------------------------------------

    def question(self, question_id: int) -> Question:
        try:
            return self.questions[question_id]
        except KeyError:
            raise UserError(f"no question {question_id} in {self.layout.question_file}") from None

    def reference_set(self, judge: str | None, question_id: int) -> tuple[str | None, str]:
        """The reference answers the judge was given for a question, and how we know.

        mtbench's judgments record the set's name; for FastChat's we follow its rule (the set named after
        the judge model) and fall back to gpt-4, the set FastChat ships.
        """
        recorded = self.recorded_references.get(judge or "", {}).get(question_id)
        if recorded is not None:
            return recorded, "recorded in the judgment"
        if judge is not None and judge in self.references:
            return judge, "named after the judge, as FastChat looks it up"
        default = self.layout.manifest.default_reference
        if default in self.references:
            return default, "the bench's default set"
        return None, ""

    def question_view(self, question_id: int, judge: str | None = None) -> dict[str, Any]:
        q = self.question(question_id)
        out: dict[str, Any] = {
            "id": q.question_id,
            "category": q.category,
            "turns": [rich(t) for t in q.turns],
            "hints": [rich(t) for t in q.reference or () if t.strip()],
            "reference": None,
        }
        ref_set, why = self.reference_set(judge, question_id)
        if ref_set is None:
            return out
        ref = self.references.get(ref_set, {}).get(question_id)
        source = os.fspath(self.layout.reference_file(ref_set))
        if ref is None and ref_set not in self.references:
            out["reference"] = {
                "source": source,
                "set": ref_set,
                "why": why,
                "judged_with": True,
                "turns": [],
                "failure": f"the judgment names reference set {ref_set!r} but {source} is missing",
            }
        elif ref is not None:
            out["reference"] = {
                "source": source,
                "set": ref_set,
                "why": why,
                "judged_with": self.layout.manifest.needs_reference(q.category),
                "turns": [rich(t) for t in ref.turns],
                "failure": None,
            }
        return out

    def answer_view(self, model: str, question_id: int) -> dict[str, Any]:
        answer = self.answers.get(model, {}).get(question_id)
        if answer is None and model in self.unreadable_answers:
            return {"model": model, "turns": [], "failure": self.unreadable_answers[model]}
        if answer is None:
            where = self.layout.answer_dir / f"{model}.jsonl"
            return {"model": model, "turns": [], "failure": f"no answer to question {question_id} in {where}"}
        return {"model": model, "turns": [rich(t) for t in answer.turns], "failure": answer.failure}

    def single_judgments(self, question_id: int, model: str, judge: str | None) -> list[dict[str, Any]]:
        """The judge's score and explanation for each turn of one model's answer (or why there is none)."""
        q = self.question(question_id)
        by_key = self.single.get(judge, {}) if judge else {}
        turns = []
        for turn in range(1, len(q.turns) + 1):
            j = by_key.get((question_id, model, turn))
            if j is None:
                turns.append(
                    {
                        "turn": turn,
                        "status": "missing",
                        "score": None,
                        "failure": None,
                        "prompt": None,
                        "explanation": None,
                    }
                )
                continue
            entry: dict[str, Any] = {
                "turn": turn,
                "status": "failed" if j.failed else "scored",
                "score": j.score,
                "failure": j.error if j.failed else None,
                "prompt": j.judge[1],
                "explanation": rich(j.judgment),
            }
            scores = self.sample_scores(judge, question_id, model, turn)
            if len(scores) > 1:
                entry["samples"] = scores
                entry["spread"] = sample_spread(scores)
            turns.append(entry)
        return turns

    def sample_scores(self, judge: str | None, question_id: int, model: str, turn: int) -> list[float | None]:
        """Each sample's score of one (model, turn), by sample index (None: that sample failed)."""
        samples = self.single_samples.get(judge or "", {}).get((question_id, model, turn), ())
        return [None if s.failed else s.score for s in samples]

    def single_view(self, question_id: int, model: str, judge: str | None) -> dict[str, Any]:
        """A question, one model's answer, and the judge's score and explanation per turn."""
        return {
            "judge": judge,
            "question": self.question_view(question_id, judge),
            "answer": self.answer_view(model, question_id),
            "judgments": self.single_judgments(question_id, model, judge),
        }

    def pair_matches(
        self, question_id: int, model_a: str, model_b: str, judge: str | None
    ) -> list[dict[str, Any]]:
        """Both games and the combined verdict per turn; winners are reported as model names.

        A match may be stored either way round (model_1 = A or B).
        """
        q = self.question(question_id)
        matches = self.pair_index.get(judge, {}) if judge else {}
        turns = []
        for turn in range(1, len(q.turns) + 1):
            j = matches.get((question_id, model_a, model_b, turn)) or matches.get(
                (question_id, model_b, model_a, turn)
            )
            turns.append(match_view(j, turn))
        return turns

    def pair_view(self, question_id: int, model_a: str, model_b: str, judge: str | None) -> dict[str, Any]:
        """Two models side by side, with both games and the combined verdict per turn."""
        return {
            "judge": judge,
            "question": self.question_view(question_id, judge),
            "answers": [self.answer_view(model_a, question_id), self.answer_view(model_b, question_id)],
            "matches": self.pair_matches(question_id, model_a, model_b, judge),
        }

    def pair_opponents(self, judge: str, question_id: int | None = None) -> list[tuple[str, str]]:
        """The (model_1, model_2) pairs judged by ``judge``, in file order (for one question if given)."""
        seen: dict[tuple[str, str], None] = {}
        for j in self.pair.get(judge, ()):
            if question_id is None or j.question_id == question_id:
                seen[(j.model_1, j.model_2)] = None
        return list(seen)


def sample_spread(scores: Sequence[float | None]) -> str:
    """A match's repeated scores as the pages show them: ``7 / 8 / 7 (median 7)`` (a failed sample ``failed``)."""
    valid = [s for s in scores if s is not None]
    shown = " / ".join("failed" if s is None else f"{s:g}" for s in scores)
    return f"{shown} (median {statistics.median(valid):g})" if valid else shown


def preview(text: str, limit: int = 128) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def load_bench_view(
    layout: BenchLayout, judge_model: str | None = None, models: Sequence[str] | None = None
) -> BenchView:
    """Read the question file, the answer files, the reference answers and the chosen judges' files.

    ``models`` given: only those models' answer files are read, and strictly (a bad line is an error
    naming file:line). ``None`` (browse shows every model): every answer file is read, and one that cannot
    be parsed is skipped with a one-line warning, its model's answers shown as that error. Judgment files
    likewise: the judge ``judge_model`` names is read strictly; with every judge shown, a judgment file
    that cannot be parsed is skipped with a warning (its judge listed without it).
    """
    if not layout.question_file.is_file():
        raise UserError(
            f"no question file at {layout.question_file}; get the data with `mtbench download` "
            "(or point --data-dir/--bench-name at it)"
        )
    judges = select_judges(layout, judge_model)
    questions = {q.question_id: q for q in load_questions(layout.question_file)}
    answers, unreadable = _load_answer_files(layout, models)
    references = {}
    if layout.reference_dir.is_dir():
        references = {p.stem: load_answers(p) for p in sorted(layout.reference_dir.glob("*.jsonl"))}
    single: dict[str, dict[tuple[int, str, int], SingleJudgment]] = {}
    samples: dict[str, dict[tuple[int, str, int], list[SingleJudgment]]] = {}
    pair: dict[str, list[PairJudgment]] = {}
    pair_index: dict[str, dict[tuple[int, str, str, int], PairJudgment]] = {}
    recorded: dict[str, dict[int, str]] = {}
    strict = judge_model is not None
    for j in judges.values():
        records: list[SingleJudgment | PairJudgment] = []
        single_records = _read(load_single_judgments, j.single, strict)
        if single_records is not None:
            single_records = dedupe(single_records)
            single[j.judge] = {(r.question_id, r.model, r.turn): r for r in single_records}
            by_item = samples.setdefault(j.judge, {})
            for one in sorted(single_records, key=lambda one: one.sample):
                by_item.setdefault((one.question_id, one.model, one.turn), []).append(one)
            records += single_records
        pair_records = _read(load_pair_judgments, j.pair, strict)
        if pair_records is not None:
            pair[j.judge] = dedupe(pair_records)
            pair_index[j.judge] = {(r.question_id, r.model_1, r.model_2, r.turn): r for r in pair[j.judge]}
            records += pair[j.judge]
        for r in records:
            name = r.extra.get("reference")
            if isinstance(name, str) and name:
                recorded.setdefault(j.judge, {})[r.question_id] = name
    return BenchView(
        layout, questions, answers, references, judges, single, samples, pair, pair_index, recorded, unreadable
    )


def dedupe(records: Sequence[R]) -> list[R]:
    """One record per ``.key``, the last one on disk (what a rerun that appended meant), in file order."""
    kept = latest_by_key(records, lambda r: r.key)
    return [r for r in records if kept[r.key] is r]


def _load_answer_files(
    layout: BenchLayout, models: Sequence[str] | None
) -> tuple[dict[str, dict[int, Answer]], dict[str, str]]:
    if models is not None:
        present = [m for m in dict.fromkeys(models) if layout.answer_file(m).is_file()]
        return {m: load_answers(layout.answer_file(m)) for m in present}, {}
    answers: dict[str, dict[int, Answer]] = {}
    unreadable: dict[str, str] = {}
    for m in layout.model_ids():
        try:
            answers[m] = load_answers(layout.answer_file(m))
        except UserError as e:
            log.warning("%s; skipped (its answers are not shown)", e)
            unreadable[m] = f"could not read the answer file: {e}"
    return answers, unreadable


def _read(load: Callable[[Path], list[J]], path: Path | None, strict: bool) -> list[J] | None:
    """``load(path)``; None when there is no file, or (not ``strict``) when it cannot be parsed (warned)."""
    if path is None:
        return None
    try:
        return load(path)
    except UserError as e:
        if strict:
            raise
        log.warning("%s; skipped (its judgments are not shown)", e)
        return None


def files_signature(layout: BenchLayout) -> tuple:
    """(path, size, mtime) of every file a view reads: a changed signature means a judge run moved on."""
    paths: list[Path] = [layout.question_file]
    for folder in (layout.answer_dir, layout.reference_dir, layout.judgment_dir):
        if folder.is_dir():
            paths.extend(sorted(folder.glob("*.jsonl")))
    sig = []
    for p in paths:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        sig.append((os.fspath(p), st.st_size, st.st_mtime_ns))
    return tuple(sig)
