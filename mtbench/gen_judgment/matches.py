"""The matches of a judging run, in FastChat's order, and which of them a rerun still has to judge (pure).

A match is one judge request (single) or one pair of games (pairwise); its ``key`` is the key of the
record it becomes (``SingleJudgment.key`` / ``PairJudgment.key``), so resume compares like with like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from mtbench.core.bench import DEFAULT_JUDGE_MODEL, Mode
from mtbench.core.language import identify
from mtbench.core.manifest import Manifest
from mtbench.core.records import Answer, JudgePrompt, PairJudgment, Question, SingleJudgment
from mtbench.gen_judgment.failures import kept_as_done
from mtbench.gen_judgment.prompts import needs_reference, prompt_name, render_pair, render_single


@dataclass(frozen=True)
class SingleMatch:
    question_id: int
    model: str
    turn: int
    judge_model: str
    prompt: JudgePrompt
    user_prompt: str
    reference: str | None  # the reference set rendered into the prompt, if any
    sample: int | None = None  # which of --judge-samples N repeats; None: a run of one (no field written)
    # A bench with a language: (the bench's, the judged turn's as identified, None if undetermined).
    language: tuple[str, str | None] | None = None

    @property
    def judge(self) -> tuple[str, str]:
        return (self.judge_model, self.prompt.name)

    @property
    def key(self) -> tuple[int, str, int, tuple[str, str], int]:
        """The key of the ``SingleJudgment`` this match becomes."""
        return (self.question_id, self.model, self.turn, self.judge, self.sample or 0)

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.user_prompt,)


@dataclass(frozen=True)
class PairMatch:
    question_id: int
    model_1: str
    model_2: str
    turn: int
    judge_model: str
    prompt: JudgePrompt
    g1_user_prompt: str  # model_1 as Assistant A
    g2_user_prompt: str  # model_2 as Assistant A
    reference: str | None
    sample: int | None = None

    @property
    def judge(self) -> tuple[str, str]:
        return (self.judge_model, self.prompt.name)

    @property
    def key(self) -> tuple[int, str, str, int, tuple[str, str], int]:
        """The key of the ``PairJudgment`` this match becomes."""
        return (self.question_id, self.model_1, self.model_2, self.turn, self.judge, self.sample or 0)

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.g1_user_prompt, self.g2_user_prompt)


Match = SingleMatch | PairMatch
JudgmentKey = tuple[int, str, int, tuple[str, str], int] | tuple[int, str, str, int, tuple[str, str], int]


def repeat_matches(matches: Sequence[Match], samples: int) -> list[Match]:
    """Each match ``samples`` times in a row, numbered 0..samples-1; one sample leaves them as they are
    (no sample index, so a default run's records stay byte-identical to a run before --judge-samples)."""
    if samples == 1:
        return list(matches)
    return [replace(m, sample=i) for m in matches for i in range(samples)]


def sample_seed(sample: int | None) -> int | None:
    """The ``seed`` sent for a sample: derived from its index so a rerun asks the same way; None for a run
    of one sample, which sends what was always sent."""
    return sample


@dataclass(frozen=True)
class Skip:
    """Judgments that cannot be made for one model and reason, with the questions affected."""

    model: str
    reason: str
    question_ids: tuple[int, ...]

    def describe(self) -> str:
        ids = ", ".join(str(q) for q in self.question_ids[:8]) + (", ..." if len(self.question_ids) > 8 else "")
        return f"{self.model}: {len(self.question_ids)} question(s) not judged, {self.reason} (q {ids})"


def _answer_problem(answer: Answer | None, turn: int) -> str | None:
    if answer is None:
        return "no answer in the answer file"
    if answer.failed:
        return "answer failed to generate"
    if len(answer.turns) < turn:
        return f"answer has no turn {turn}"
    return None


def _ordered_groups(questions: Sequence[Question], manifest: Manifest | None = None) -> list[tuple[Question, int]]:
    """(question, turn) in FastChat's order: default t1, reference t1, default t2, reference t2.

    Turn-2 matches exist only for two-turn questions (FastChat's multi-turn builders skip the rest), and
    only the turns the bench's manifest judges (Japanese MT-bench: turn 1, as its fork's gen_judgment).
    """
    default = [q for q in questions if not needs_reference(q.category, manifest)]
    with_ref = [q for q in questions if needs_reference(q.category, manifest)]
    order = [(q, 1) for q in default] + [(q, 1) for q in with_ref]
    order += [(q, 2) for q in default if len(q.turns) == 2] + [(q, 2) for q in with_ref if len(q.turns) == 2]
    return [(q, turn) for q, turn in order if manifest is None or manifest.judges_turn(turn)]


def model_pairs(mode: Mode, models: Sequence[str], baseline: str | None) -> list[tuple[str, ...]]:
    """Who is judged: each model alone (single), each model against the baseline, or every pair i < j."""
    if mode is Mode.SINGLE:
        return [(m,) for m in models]
    if mode is Mode.PAIRWISE_BASELINE:
        assert baseline is not None
        return [(m, baseline) for m in models if m != baseline]
    return [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]


def build_matches(
    mode: Mode | str,
    questions: Sequence[Question],
    models: Sequence[str],
    answers: Mapping[str, Mapping[int, Answer]],
    prompts: Mapping[str, JudgePrompt],
    references: Mapping[int, Answer] | None,
    reference_name: str | None,
    baseline: str | None = None,
    *,
    judge_model: str = DEFAULT_JUDGE_MODEL,
    manifest: Manifest | None = None,
) -> tuple[list[Match], list[Skip]]:
    """Every match of ``mode`` in FastChat's order, and the judgments skipped for a missing or failed answer.

    single: one per (question, model, turn). pairwise-baseline: (model, baseline) for each model other
    than the baseline. pairwise-all: (models[i], models[j]) for i < j in list order.
    """
    mode = Mode.parse(mode)
    pairs = model_pairs(mode, models, baseline)
    matches: list[Match] = []
    skipped: dict[tuple[str, str], list[int]] = {}
    for question, turn in _ordered_groups(questions, manifest):
        prompt = prompts[prompt_name(mode, question.category, turn, manifest)]
        ref_turns = None
        if needs_reference(question.category, manifest):
            assert references is not None
            ref_turns = references[question.question_id].turns
        ref = reference_name if ref_turns is not None else None
        qid = question.question_id
        for pair in pairs:
            bad = [(m, p) for m in pair if (p := _answer_problem(answers[m].get(qid), turn)) is not None]
            if bad:
                for m, p in bad:
                    # A model skipped once per question, not once per turn or pair partner.
                    ids = skipped.setdefault((m, p), [])
                    if qid not in ids:
                        ids.append(qid)
                continue
            if not mode.pairwise:
                (m,) = pair
                text = render_single(prompt, question, answers[m][qid].turns, turn, ref_turns)
                expected = manifest.language if manifest is not None else None
                language = None if expected is None else (expected, identify(answers[m][qid].turns[turn - 1]))
                matches.append(SingleMatch(qid, m, turn, judge_model, prompt, text, ref, language=language))
            else:
                m1, m2 = pair
                t1, t2 = answers[m1][qid].turns, answers[m2][qid].turns
                g1 = render_pair(prompt, question, t1, t2, turn, ref_turns)
                g2 = render_pair(prompt, question, t2, t1, turn, ref_turns)
                matches.append(PairMatch(qid, m1, m2, turn, judge_model, prompt, g1, g2, ref))
    skips = [Skip(m, reason, tuple(ids)) for (m, reason), ids in skipped.items()]
    return matches, skips


@dataclass(frozen=True)
class ResumeState:
    todo: tuple[Match, ...]
    done: int  # already judged with the same prompt: skipped
    failed_kept: int  # judged before, no verdict: skipped (``--retry-failed`` judges them again)
    failed_retried: int  # judged before with no verdict (``--retry-failed``), or the call never got an answer
    changed: int  # on disk, but the rendered prompt differs (an answer or reference changed): judged again


def resume(
    matches: Sequence[Match], existing: Mapping[JudgmentKey, SingleJudgment | PairJudgment], *, retry_failed: bool,
) -> ResumeState:
    """Which matches still need a judge call, given the latest record per key already on disk."""
    todo: list[Match] = []
    done = failed_kept = failed_retried = changed = 0
    for match in matches:
        record = existing.get(match.key)
        if record is None:
            todo.append(match)
            continue
        on_disk = (
            (record.user_prompt,) if isinstance(record, SingleJudgment)
            else (record.g1_user_prompt, record.g2_user_prompt)
        )
        if on_disk != match.prompts:
            changed += 1
            todo.append(match)
        elif record.failed and (retry_failed or not kept_as_done(record)):
            failed_retried += 1
            todo.append(match)
        elif record.failed:
            failed_kept += 1
        else:
            done += 1
    return ResumeState(tuple(todo), done, failed_kept, failed_retried, changed)
