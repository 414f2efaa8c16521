"""LLM-as-a-judge for MT-bench: matches per mode, prompt choice and rendering, verdict parsing, the plan
(what will be called and what it will cost), and the async runner.

Prompts, regexes and match contents are FastChat's (``fastchat/llm_judge``), so a judgment made here is the
judgment FastChat would have asked for, byte for byte. What differs is deliberate:

- failures are values (score None / winner "error" with an ``error`` reason), never ``-1`` or ``$ERROR$``;
- answers that failed to generate (FastChat's ``ERROR``/``$ERROR$`` or our ``error`` field) are not judged;
- a rerun resumes: a match already on disk with the same judge and the same rendered prompt is skipped;
- the reference answers are chosen by name (``--reference``), not by the judge model's name;
- a score such as ``[[08]]`` parses as 8 (FastChat's ``ast.literal_eval`` raises on the leading zero).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.bench import (
    DEFAULT_BASELINE_MODEL,
    DEFAULT_JUDGE_MODEL,
    DEFAULT_REFERENCE,
    MODES,
    NEED_REF_CATEGORIES,
    BenchLayout,
    Mode,
)
from mtbench.client import ChatClient, ChatResult, EndpointConfig, run_bounded
from mtbench.cost import ASSUMED_OUTPUT_TOKENS, Price, estimate_input_tokens, format_usd, price_for
from mtbench.errors import RunFailed, UserError
from mtbench.records import (
    Answer,
    JsonlWriter,
    JudgePrompt,
    PairJudgment,
    Question,
    SingleJudgment,
    exclusive_output,
    latest_by_key,
    load_answers,
    load_judge_prompts,
    load_pair_judgments,
    load_questions,
    load_single_judgments,
)

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 2048

# FastChat's four judges per mode: (needs a reference, turn) -> prompt name.
SINGLE_PROMPTS = {
    (False, 1): "single-v1",
    (True, 1): "single-math-v1",
    (False, 2): "single-v1-multi-turn",
    (True, 2): "single-math-v1-multi-turn",
}
PAIR_PROMPTS = {
    (False, 1): "pair-v2",
    (True, 1): "pair-math-v1",
    (False, 2): "pair-v2-multi-turn",
    (True, 2): "pair-math-v1-multi-turn",
}


# ---------------------------------------------------------------------------------------------------
# parsing (pure)

# FastChat's patterns, exactly as compiled in common.py.

ONE_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
TWO_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*),\s?(\d+\.?\d*)\]\]")
TWO_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*),\s?(\d+\.?\d*)\]")
TIE_DELTA = 0.1


def _number(text: str) -> int | float:
    # What ast.literal_eval gives for the regex's matches ("8" -> 8, "8.5" -> 8.5, "8." -> 8.0), except
    # that a leading zero ("08") is 8 here where literal_eval raises and kills FastChat's worker.
    return float(text) if "." in text else int(text)


def parse_rating(judgment: str) -> int | float | None:
    """The score in a single-mode judgment: the first ``[[n]]``, else the first ``[n]``; None if neither."""
    match = ONE_SCORE_PATTERN.search(judgment) or ONE_SCORE_PATTERN_BACKUP.search(judgment)
    return _number(match.group(1)) if match else None


def parse_verdict(judgment: str, output_format: str = "[[A]]") -> str | None:
    """"A", "B" or "tie" for a pairwise judgment, None if the reply has no verdict.

    ``[[A]]`` format: substring checks in FastChat's order (A, then B, then C), so a reply that quotes
    the instructions' ``[[A]]`` before its own verdict reads as A, as in FastChat.
    """
    if output_format == "[[A]]":
        if "[[A]]" in judgment:
            return "A"
        if "[[B]]" in judgment:
            return "B"
        if "[[C]]" in judgment:
            return "tie"
        return None
    if output_format == "[[rating_a,rating_b]]":
        match = TWO_SCORE_PATTERN.search(judgment) or TWO_SCORE_PATTERN_BACKUP.search(judgment)
        if not match:
            return None
        a, b = _number(match.group(1)), _number(match.group(2))
        if abs(a - b) <= TIE_DELTA:
            return "tie"
        return "A" if a > b else "B"
    raise UserError(f"judge prompt output_format {output_format!r} is not one FastChat defines")


def game_winner(verdict: str | None, game: int) -> str:
    """Map a verdict to the record's winner: game 1 shows model_1 as A, game 2 shows model_2 as A."""
    if verdict is None:
        return "error"
    if verdict == "tie":
        return "tie"
    first = verdict == "A"
    if game == 2:
        first = not first
    return "model_1" if first else "model_2"


# ---------------------------------------------------------------------------------------------------
# prompts (pure)


def needs_reference(category: str) -> bool:
    return category in NEED_REF_CATEGORIES


def prompt_name(kind: str, category: str, turn: int) -> str:
    """Which judge prompt FastChat uses: by category (reference-guided or not) and turn."""
    table = SINGLE_PROMPTS if kind == "single" else PAIR_PROMPTS
    return table[(needs_reference(category), 1 if turn == 1 else 2)]


def _question_fields(question: Question, turn: int, reference: Sequence[str] | None) -> dict[str, str]:
    """The template fields every judge prompt of ``turn`` shares: the question(s) and the reference turns."""
    if turn == 1:
        fields = {"question": question.turns[0]}
    else:
        fields = {"question_1": question.turns[0], "question_2": question.turns[1]}
    if reference is not None:
        fields.update({f"ref_answer_{i + 1}": reference[i] for i in range(turn)})
    return fields


def render_single(
    prompt: JudgePrompt, question: Question, answer: Sequence[str], turn: int, reference: Sequence[str] | None
) -> str:
    """The user message of a single-answer judgment (FastChat's ``str.format`` of the template)."""
    fields = _question_fields(question, turn, reference)
    if turn == 1:
        fields["answer"] = answer[0]
    else:
        fields.update({"answer_1": answer[0], "answer_2": answer[1]})
    return prompt.prompt_template.format(**fields)


def render_pair(
    prompt: JudgePrompt,
    question: Question,
    answer_a: Sequence[str],
    answer_b: Sequence[str],
    turn: int,
    reference: Sequence[str] | None,
) -> str:
    """The user message of one pairwise game, ``answer_a`` shown as Assistant A."""
    fields = _question_fields(question, turn, reference)
    if turn == 1:
        fields.update({"answer_a": answer_a[0], "answer_b": answer_b[0]})
    else:
        fields.update({
            "answer_a_1": answer_a[0], "answer_b_1": answer_b[0], "answer_a_2": answer_a[1], "answer_b_2": answer_b[1],
        })
    return prompt.prompt_template.format(**fields)


def judge_messages(prompt: JudgePrompt, user_prompt: str) -> list[dict[str, str]]:
    """[system, user] as FastChat sends to an OpenAI judge; no system message when it is empty."""
    messages = [{"role": "user", "content": user_prompt}]
    if prompt.system_prompt:
        messages.insert(0, {"role": "system", "content": prompt.system_prompt})
    return messages


# ---------------------------------------------------------------------------------------------------
# matches (pure)


@dataclass(frozen=True)
class SingleMatch:
    question_id: int
    model: str
    turn: int
    prompt: JudgePrompt
    user_prompt: str
    reference: str | None  # the reference set rendered into the prompt, if any

    def key(self, judge_model: str) -> tuple:
        return (self.question_id, self.model, self.turn, (judge_model, self.prompt.name))

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.user_prompt,)


@dataclass(frozen=True)
class PairMatch:
    question_id: int
    model_1: str
    model_2: str
    turn: int
    prompt: JudgePrompt
    g1_user_prompt: str  # model_1 as Assistant A
    g2_user_prompt: str  # model_2 as Assistant A
    reference: str | None

    def key(self, judge_model: str) -> tuple:
        return (self.question_id, self.model_1, self.model_2, self.turn, (judge_model, self.prompt.name))

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.g1_user_prompt, self.g2_user_prompt)


Match = SingleMatch | PairMatch


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


def _ordered_groups(questions: Sequence[Question]) -> list[tuple[Question, int]]:
    """(question, turn) in FastChat's order: default t1, reference t1, default t2, reference t2.

    Turn-2 matches exist only for two-turn questions (FastChat's multi-turn builders skip the rest).
    """
    default = [q for q in questions if not needs_reference(q.category)]
    with_ref = [q for q in questions if needs_reference(q.category)]
    order = [(q, 1) for q in default] + [(q, 1) for q in with_ref]
    order += [(q, 2) for q in default if len(q.turns) == 2] + [(q, 2) for q in with_ref if len(q.turns) == 2]
    return order


def build_matches(
    mode: str,
    questions: Sequence[Question],
    models: Sequence[str],
    answers: Mapping[str, Mapping[int, Answer]],
    prompts: Mapping[str, JudgePrompt],
    references: Mapping[int, Answer] | None,
    reference_name: str | None,
    baseline: str | None = None,
) -> tuple[list[Match], list[Skip]]:
    """Every match of ``mode`` in FastChat's order, and the judgments skipped for a missing or failed answer.

    single: one per (question, model, turn). pairwise-baseline: (model, baseline) for each model other
    than the baseline. pairwise-all: (models[i], models[j]) for i < j in list order.
    """
    if mode == "single":
        pairs: list[tuple[str, ...]] = [(m,) for m in models]
    elif mode == "pairwise-baseline":
        assert baseline is not None
        pairs = [(m, baseline) for m in models if m != baseline]
    elif mode == "pairwise-all":
        pairs = [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]
    else:
        raise UserError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    kind = "single" if mode == "single" else "pairwise"

    matches: list[Match] = []
    skipped: dict[tuple[str, str], list[int]] = {}
    for question, turn in _ordered_groups(questions):
        name = prompt_name(kind, question.category, turn)
        prompt = prompts[name]
        ref_turns = None
        if needs_reference(question.category):
            assert references is not None
            ref_turns = references[question.question_id].turns
        for pair in pairs:
            problems = [(m, _answer_problem(answers[m].get(question.question_id), turn)) for m in pair]
            bad = [(m, p) for m, p in problems if p is not None]
            if bad:
                for m, p in bad:
                    # A model skipped once per question, not once per turn or pair partner.
                    ids = skipped.setdefault((m, p), [])
                    if question.question_id not in ids:
                        ids.append(question.question_id)
                continue
            ref = reference_name if ref_turns is not None else None
            if kind == "single":
                (m,) = pair
                text = render_single(prompt, question, answers[m][question.question_id].turns, turn, ref_turns)
                matches.append(SingleMatch(question.question_id, m, turn, prompt, text, ref))
            else:
                m1, m2 = pair
                t1 = answers[m1][question.question_id].turns
                t2 = answers[m2][question.question_id].turns
                g1 = render_pair(prompt, question, t1, t2, turn, ref_turns)
                g2 = render_pair(prompt, question, t2, t1, turn, ref_turns)
                matches.append(PairMatch(question.question_id, m1, m2, turn, prompt, g1, g2, ref))
    skips = [Skip(m, reason, tuple(ids)) for (m, reason), ids in skipped.items()]
    return matches, skips


@dataclass(frozen=True)
class ResumeState:
    todo: tuple[Match, ...]
    done: int  # already judged with the same prompt: skipped
    failed_kept: int  # judged before and failed: skipped (``--retry-failed`` judges them again)
    failed_retried: int
    changed: int  # on disk, but the rendered prompt differs (an answer or reference changed): judged again


def resume(
    matches: Sequence[Match], existing: Mapping[tuple, SingleJudgment | PairJudgment], judge_model: str,
    *, retry_failed: bool,
) -> ResumeState:
    """Which matches still need a judge call, given the latest record per key already on disk."""
    todo: list[Match] = []
    done = failed_kept = failed_retried = changed = 0
    for match in matches:
        record = existing.get(match.key(judge_model))
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
        elif record.failed and retry_failed:
            failed_retried += 1
            todo.append(match)
        elif record.failed:
            failed_kept += 1
        else:
            done += 1
    return ResumeState(tuple(todo), done, failed_kept, failed_retried, changed)


# ---------------------------------------------------------------------------------------------------
# configuration and plan


@dataclass(frozen=True)
class JudgeConfig:
    layout: BenchLayout
    mode: str = "single"
    judge_file: Path | None = None  # None: data/judge_prompts.jsonl
    judge_model: str = DEFAULT_JUDGE_MODEL
    baseline_model: str = DEFAULT_BASELINE_MODEL
    model_list: tuple[str, ...] | None = None  # None: every answer file
    first_n: int | None = None
    reference: str = DEFAULT_REFERENCE
    parallel: int = 8
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    retry_failed: bool = False
    price_input: float | None = None  # USD per 1M tokens
    price_output: float | None = None
    progress: bool = True


@dataclass(frozen=True)
class JudgePlan:
    config: JudgeConfig
    models: tuple[str, ...]
    output: Path
    matches: int
    resume: ResumeState
    skips: tuple[Skip, ...]
    api_calls: int
    input_tokens: int  # estimated
    output_tokens: int  # estimated
    price: Price | None

    @property
    def estimated_cost(self) -> float | None:
        return None if self.price is None else self.price.cost(self.input_tokens, self.output_tokens)

    def describe(self) -> str:
        c = self.config
        r = self.resume
        where = c.endpoint.resolved_base_url() or "the OpenAI API"
        lines = [
            f"judge: {c.judge_model} at {where}, mode {c.mode}"
            + (f", baseline {c.baseline_model}" if c.mode == "pairwise-baseline" else ""),
            f"models ({len(self.models)}): {', '.join(self.models)}",
            f"matches: {self.matches}; already judged {r.done}; to judge {len(r.todo)}"
            + (f" ({r.changed} whose prompt changed: an answer or reference was edited)" if r.changed else "")
            + (f" ({r.failed_retried} failed before, retried)" if r.failed_retried else ""),
        ]
        if r.failed_kept:
            lines.append(f"failed before and kept: {r.failed_kept} (use --retry-failed to judge them again)")
        skipped = sum(len(s.question_ids) for s in self.skips)
        if skipped:
            lines.append(f"not judged ({skipped} model-questions):")
            lines += [f"  {s.describe()}" for s in self.skips]
        price = (
            f"{c.judge_model} price unknown (give --price-input and --price-output)" if self.price is None
            else f"at ${self.price.input:g} in / ${self.price.output:g} out per 1M tokens"
        )
        lines += [
            f"API calls: {self.api_calls}; estimated tokens: {self.input_tokens:,} in "
            f"(chars/4) + {self.output_tokens:,} out ({ASSUMED_OUTPUT_TOKENS} per call assumed)",
            f"estimated cost: {format_usd(self.estimated_cost)} ({price})",
            f"output: {self.output}",
        ]
        return "\n".join(lines)


def _load_answers(layout: BenchLayout, models: Iterable[str]) -> dict[str, dict[int, Answer]]:
    out = {}
    for model in models:
        path = layout.answer_file(model)
        if not path.is_file():
            known = ", ".join(layout.model_ids()) or "none"
            raise UserError(f"no answers for model {model!r}: {path} does not exist (answer files: {known})")
        out[model] = load_answers(path)
    return out


def _load_references(
    layout: BenchLayout, name: str, questions: Sequence[Question]
) -> dict[int, Answer] | None:
    needed = [q for q in questions if needs_reference(q.category)]
    if not needed:
        return None
    path = layout.reference_file(name)
    if not path.is_file():
        raise UserError(
            f"reference answers {path} not found ({len(needed)} questions are judged against a reference): "
            f"run `mtbench download`, or pick another file in {layout.reference_dir} with --reference NAME"
        )
    refs = load_answers(path)
    for q in needed:
        ref = refs.get(q.question_id)
        if ref is None or len(ref.turns) < len(q.turns) or ref.failed:
            raise UserError(f"{path}: no usable reference answer for question {q.question_id} ({q.category})")
    return refs


def _load_prompts(path: Path, mode: str) -> dict[str, JudgePrompt]:
    if not path.is_file():
        raise UserError(f"judge prompt file {path} not found: run `mtbench download` or pass --judge-file")
    prompts = load_judge_prompts(path)
    names = SINGLE_PROMPTS.values() if mode == "single" else PAIR_PROMPTS.values()
    missing = [n for n in names if n not in prompts]
    if missing:
        raise UserError(f"{path}: no judge prompt named {', '.join(missing)}")
    return prompts


def _load_existing(path: Path, mode: str) -> dict[tuple, SingleJudgment | PairJudgment]:
    if not path.is_file():
        return {}
    if mode == "single":
        return latest_by_key(load_single_judgments(path), lambda r: r.key)
    return latest_by_key(load_pair_judgments(path), lambda r: r.key)


def plan_judging(config: JudgeConfig) -> JudgePlan:
    """Load everything, build the matches, and work out what a run will call and cost. Calls nothing."""
    layout = config.layout
    Mode.parse(config.mode)
    if config.first_n is not None and config.first_n < 1:
        raise UserError(f"--first-n must be at least 1, got {config.first_n}")
    if config.parallel < 1:
        raise UserError(f"--parallel must be at least 1, got {config.parallel}")
    if not layout.question_file.is_file():
        raise UserError(f"{layout.question_file} not found: run `mtbench download` (or check --data-dir/--bench-name)")
    questions = load_questions(layout.question_file)
    if config.first_n is not None:
        questions = questions[: config.first_n]  # FastChat's --first-n: the first n questions

    if config.model_list:
        models = tuple(dict.fromkeys(config.model_list))
    else:
        models = tuple(layout.model_ids())
        if not models:
            raise UserError(
                f"no answer files in {layout.answer_dir}: generate answers first (mtbench gen-answer / gen-api-answer)"
            )
    needed = list(models)
    if config.mode == "pairwise-baseline":
        if not layout.answer_file(config.baseline_model).is_file():
            raise UserError(
                f"baseline answers {layout.answer_file(config.baseline_model)} not found "
                f"(--baseline-model {config.baseline_model}); generate them or pick another baseline"
            )
        needed.append(config.baseline_model)
        if not [m for m in models if m != config.baseline_model]:
            raise UserError(f"--model-list has no model other than the baseline {config.baseline_model!r}")
    if config.mode == "pairwise-all" and len(models) < 2:
        raise UserError(f"pairwise-all needs at least 2 models, got {len(models)}: {', '.join(models)}")
    answers = _load_answers(layout, dict.fromkeys(needed))
    prompts = _load_prompts(config.judge_file or layout.judge_prompts_file, config.mode)
    references = _load_references(layout, config.reference, questions)

    matches, skips = build_matches(
        config.mode, questions, models, answers, prompts, references, config.reference, config.baseline_model
    )
    output = layout.judgment_file(config.judge_model, config.mode)
    existing = _load_existing(output, config.mode)
    state = resume(matches, existing, config.judge_model, retry_failed=config.retry_failed)

    calls = input_tokens = 0
    for match in state.todo:
        for text in match.prompts:
            calls += 1
            input_tokens += estimate_input_tokens(judge_messages(match.prompt, text))
    price = price_for(config.judge_model, input_price=config.price_input, output_price=config.price_output)
    return JudgePlan(
        config=config, models=models, output=output, matches=len(matches), resume=state, skips=tuple(skips),
        api_calls=calls, input_tokens=input_tokens, output_tokens=calls * ASSUMED_OUTPUT_TOKENS, price=price,
    )


def check_budget(plan: JudgePlan, max_cost: float | None) -> None:
    """Refuse (UserError) a plan whose estimated cost is above ``max_cost`` USD, or cannot be known."""
    if max_cost is None or plan.api_calls == 0:
        return
    cost = plan.estimated_cost
    if cost is None:
        raise UserError(
            f"--max-cost {max_cost:g}: the price of {plan.config.judge_model} is unknown; "
            "give --price-input and --price-output (USD per 1M tokens)"
        )
    if cost > max_cost:
        raise UserError(
            f"estimated cost {format_usd(cost)} is above --max-cost {format_usd(max_cost)}; "
            "judge fewer models/questions (--model-list, --first-n) or raise --max-cost"
        )


# ---------------------------------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class JudgeSummary:
    written: int
    failures: Mapping[str, int]  # reason -> count, over written records
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
            lines += [f"  {n} x {reason}" for reason, n in sorted(self.failures.items(), key=lambda x: -x[1])]
        return "\n".join(lines)


def failure_kind(reason: str) -> str:
    """A reason without its details, for counting: 'HTTP 500', 'timed out', 'unparseable', ..."""
    head = reason.split(":", 1)[0].split(" (", 1)[0]
    return "timed out" if head.startswith("timed out") else head


def _call_extra(result: ChatResult) -> dict:
    extra = result.usage()
    if result.model:
        extra["model"] = result.model
    return extra


def single_record(match: SingleMatch, judge_model: str, result: ChatResult, config: JudgeConfig) -> SingleJudgment:
    """The judgment record of one call: the score, or None with the reason."""
    score = error = None
    if result.ok:
        score = parse_rating(result.text)
        if score is None:
            error = "unparseable: no [[rating]] in the judge's reply"
    else:
        error = result.error
    extra = {
        "judge_call": _call_extra(result),
        "reference": match.reference,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    return SingleJudgment(
        question_id=match.question_id, model=match.model, judge=(judge_model, match.prompt.name),
        user_prompt=match.user_prompt, judgment=result.text or "", score=score, turn=match.turn,
        tstamp=time.time(), error=error, extra=extra,
    )


def pair_record(
    match: PairMatch, judge_model: str, g1: ChatResult, g2: ChatResult, config: JudgeConfig
) -> PairJudgment:
    """The record of both games; a game with no verdict has winner "error" and its reason in ``error``."""
    winners, errors = [], []
    for game, result in ((1, g1), (2, g2)):
        if result.ok:
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
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    return PairJudgment(
        question_id=match.question_id, model_1=match.model_1, model_2=match.model_2,
        g1_winner=winners[0], g2_winner=winners[1], judge=(judge_model, match.prompt.name),
        g1_user_prompt=match.g1_user_prompt, g1_judgment=g1.text or "",
        g2_user_prompt=match.g2_user_prompt, g2_judgment=g2.text or "",
        turn=match.turn, tstamp=time.time(), error="; ".join(errors) or None, extra=extra,
    )


def _record_failures(record: SingleJudgment | PairJudgment) -> list[str]:
    if record.error is None:
        return []
    if isinstance(record, SingleJudgment):
        return [failure_kind(record.error)]
    return [failure_kind(part.split(": ", 1)[1]) for part in record.error.split("; game ")]


class _Breaker:
    """Stops a run whose every call fails: an endpoint that is down would otherwise burn the whole
    retry budget on each of thousands of matches before the user learns anything."""

    def __init__(self, limit: int):
        self.limit = limit
        self.consecutive = 0

    def observe(self, results: Sequence[ChatResult]) -> None:
        for result in results:
            self.consecutive = 0 if result.ok else self.consecutive + 1
        if self.consecutive >= self.limit:
            last = next(r.error for r in reversed(results) if not r.ok)
            raise RunFailed(
                f"the last {self.consecutive} judge calls all failed (last: {last}); once the endpoint "
                "works, rerun with --retry-failed to judge the failed matches again"
            )


async def _run(plan: JudgePlan) -> JudgeSummary:
    from tqdm import tqdm

    config = plan.config
    judge_model = config.judge_model
    started = time.monotonic()
    failures: Counter[str] = Counter()
    written = 0
    breaker = _Breaker(max(10, 2 * config.parallel))

    async with ChatClient(config.endpoint, max_connections=config.parallel) as client:

        async def call(match: Match, text: str) -> ChatResult:
            return await client.chat(
                judge_model, judge_messages(match.prompt, text),
                temperature=config.temperature, max_tokens=config.max_tokens,
            )

        async def work(match: Match):
            if isinstance(match, SingleMatch):
                result = await call(match, match.user_prompt)
                return single_record(match, judge_model, result, config), (result,)
            # The two games one after the other, as FastChat: --parallel bounds requests in flight.
            g1 = await call(match, match.g1_user_prompt)
            g2 = await call(match, match.g2_user_prompt)
            return pair_record(match, judge_model, g1, g2, config), (g1, g2)

        bar = tqdm(total=len(plan.resume.todo), desc="judging", unit="match", file=sys.stderr,
                   disable=not config.progress, mininterval=0.5, dynamic_ncols=True)
        try:
            with exclusive_output(plan.output, "judge"), JsonlWriter(plan.output) as writer:
                # The first match alone, then the rest in parallel: a refused key or a wrong model name
                # stops the run after one call instead of --parallel calls.
                todo = plan.resume.todo
                for batch, parallel in ((todo[:1], 1), (todo[1:], config.parallel)):
                    async for _, (record, results) in run_bounded(batch, work, parallel=parallel):
                        writer.write(record)
                        written += 1
                        failures.update(_record_failures(record))
                        bar.update(1)
                        breaker.observe(results)
        except RunFailed as e:
            meter = client.meter
            raise type(e)(
                f"{e}; stopped after {meter.calls} call(s), {written} judgment(s) saved to {plan.output}; "
                "fix the cause and rerun the same command to resume"
            ) from None
        finally:
            bar.close()
        meter = client.meter

    cost = None if plan.price is None else plan.price.cost(meter.prompt_tokens, meter.completion_tokens)
    return JudgeSummary(
        written=written, failures=dict(failures), calls=meter.calls, attempts=meter.attempts,
        prompt_tokens=meter.prompt_tokens, completion_tokens=meter.completion_tokens, cost=cost,
        elapsed_s=time.monotonic() - started,
    )


def run_judging(plan: JudgePlan) -> JudgeSummary:
    """Judge every match the plan has left to do, appending each record the moment it is made.

    A kill at any moment loses only the calls in flight; a rerun skips what is on disk.
    """
    if not plan.resume.todo:
        return JudgeSummary(0, {}, 0, 0, 0, 0, 0.0 if plan.price else None, 0.0)
    return asyncio.run(_run(plan))
