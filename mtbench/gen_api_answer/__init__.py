"""Answers from an OpenAI-compatible endpoint (vLLM, transformers serve, the OpenAI API): FastChat's
``gen_api_answer`` on the shared client.

One conversation is one question times ``num_choices``; inside it the turns run in order, each turn
sending the whole history with the model's own earlier answers. Conversations run ``parallel`` at a
time. Each finished question is appended to the answer file at once, so a killed run loses only what
was in flight; a rerun skips what is on disk, and the end of a run rewrites the file sorted by
question id with one line per id (FastChat's ``reorg_answer_file``).

A run that cannot work stops early with one line (exit 1): a preflight GET /models finds an unreachable
URL or a refused key in seconds; then the shared runner's stop rule (``mtbench.core.runner``): the first
question runs alone and a failed call in it stops the run before the others fan out (a wrong model
name fails there), and a streak of questions whose endpoint failed (no connection, timeouts, 5xx after
every retry) stops it rather than marking the whole question set failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shortuuid

from mtbench.core.answer_file import (
    answer_run,
    existing_answers,
    never_reached,
    questions_to_ask,
)
from mtbench.core.bench import (
    GOLDEN_KEY,
    BenchLayout,
    history_answers,
    per_category_option,
    question_begin_option,
    question_end_option,
    question_temperature,
)
from mtbench.core.client import ChatClient, ChatResult, EndpointConfig, EndpointFatal, FailureKind
from mtbench.core.errors import RunFailed
from mtbench.core.options import check, nested, option
from mtbench.core.partial_turns import PartialTurns
from mtbench.core.rate_limit import RateController
from mtbench.core.reasoning import ReasoningOptions, SplitReply, choice_of
from mtbench.core.records import Answer, Choice, JsonlWriter, Question
from mtbench.core.request_params import extra_body
from mtbench.core.runner import Level, Outcome, ProbeFailed, Runner
from mtbench.protocols import bench_questions

log = logging.getLogger("mtbench")


@dataclass(frozen=True)
class ApiAnswerConfig:
    """Everything one ``gen-api-answer`` run needs; built by the CLI, never from an argparse Namespace."""

    model: str = option(help="the model name sent to the endpoint")
    layout: BenchLayout = nested(default_factory=BenchLayout)
    # The answer file's stem: the model's identity for judge and show ("": from --model).
    model_id: str = option("", help="the answer file's name, i.e. the model's name in judgments and tables",
                           default_help="--model with '/' replaced by '--', e.g. meta-llama/Llama-3-8B -> "
                           "meta-llama--Llama-3-8B")
    answer_file: Path | None = option(None, help="output file", default_help="BENCH/model_answer/MODEL_ID.jsonl")
    endpoint: EndpointConfig = nested(flags={"base_url": ("--base-url", "--openai-api-base")},
                                      default_factory=EndpointConfig)
    parallel: int = option(1, help="conversations in flight at once")
    num_choices: int = option(1, help="conversations per question")
    force_temperature: float | None = option(
        None, metavar="T", help="one temperature for every question, over required_temperature and the "
        "per-category table")
    max_tokens: int = option(1024, help="max_tokens of each turn")
    question_begin: int | None = question_begin_option()
    question_end: int | None = question_end_option()
    per_category: int | None = per_category_option()
    system_prompt: str | None = option(None, metavar="TEXT", help="a system message sent first in every request",
                                       default_help="none, the model's own default applies")
    extra_body: Mapping[str, Any] = option(
        default_factory=dict, metavar="JSON", parse=extra_body,
        help="more request fields, a JSON object, e.g. '{\"reasoning_effort\": \"high\"}' or "
        "'{\"chat_template_kwargs\": {\"enable_thinking\": true}}' (recorded in each answer)")
    reasoning: ReasoningOptions = nested(default_factory=ReasoningOptions)
    retry_failed: bool = option(False, help="ask again the questions recorded as failures")
    progress: bool = option(True, flag="--no-progress", help="no progress bar")

    def __post_init__(self) -> None:
        if not self.model_id:
            object.__setattr__(self, "model_id", default_model_id(self.model))
        for key, flag in FLAG_FIELDS.items():
            check(key not in self.extra_body, f"{{extra_body}} must not set {key!r}: use {{{flag}}}")
        check(self.num_choices >= 1, f"{{num_choices}} must be at least 1, got {self.num_choices}")
        check(self.max_tokens >= 1, f"{{max_tokens}} must be at least 1, got {self.max_tokens}")
        check(self.parallel >= 1, f"{{parallel}} must be at least 1, got {self.parallel}")
        check(self.force_temperature is None or self.force_temperature >= 0,
              f"{{force_temperature}} must be 0 or more, got {self.force_temperature}")
        check(bool(self.model.strip()), "{model} must not be empty")

    @property
    def output_file(self) -> Path:
        return self.answer_file or self.layout.answer_file(self.model_id)


# Request fields an --extra-body must leave to their own flags (the rest of the reserved ones:
# request_params.RESERVED_FIELDS).
FLAG_FIELDS = {"max_tokens": "max_tokens", "temperature": "force_temperature"}


@dataclass(frozen=True)
class RunSummary:
    answer_file: Path
    selected: int  # questions in the --question-begin/--question-end slice
    skipped: int  # already on disk, not asked again
    answered: int  # asked in this run and answered
    failed: tuple[tuple[int, str], ...]  # (question_id, reason) asked in this run and failed
    prompt_tokens: int
    completion_tokens: int
    truncated_turns: int  # turns the endpoint cut at --max-tokens (finish_reason "length")
    elapsed_s: float
    rate_limited: int = 0  # requests answered 429
    waited_s: float = 0.0  # wall time sends were held back for the provider's rate limits
    cut_while_reasoning: int = 0  # of those, turns cut inside their reasoning: an empty visible answer
    unreached: int = 0  # of the failures, those the endpoint never answered: a plain rerun asks them again

    @property
    def retry_hint(self) -> str:
        """What to run to ask the failed questions again."""
        if self.unreached == len(self.failed):
            return "rerun the same command to ask the failed questions again (the endpoint never answered them)"
        if self.unreached:
            return (f"rerun to ask the {self.unreached} the endpoint never answered again; add --retry-failed "
                    "for the others")
        return "rerun with --retry-failed to ask the failed questions again"


def default_model_id(model: str) -> str:
    """The answer file's stem for an endpoint model name: 'meta-llama/Llama-3-8B' -> 'meta-llama--Llama-3-8B'.

    FastChat uses the name as is, so a hub-style name silently writes into a subfolder that its judge
    never finds.
    """
    return model.replace("/", "--").replace("\\", "--")


def build_messages(system_prompt: str | None, user_turns: Sequence[str], answers: Sequence[str]) -> list[dict[str, str]]:
    """The chat for the next turn: [system?], user 1, assistant 1, ..., user n (n = len(answers) + 1).

    No system message unless one is asked for: FastChat sends its one-shot template's system text to
    any model name it does not recognise, which is not what the model was trained on.
    """
    if len(user_turns) != len(answers) + 1:
        raise ValueError(f"{len(user_turns)} user turns need {len(user_turns) - 1} answers, got {len(answers)}")
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for user, assistant in zip(user_turns[:-1], answers, strict=True):
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": user_turns[-1]})
    return messages


async def _converse(
    client: ChatClient, config: ApiAnswerConfig, question: Question, partial: PartialTurns
) -> Outcome[Answer]:
    """One question, every choice and turn in order; the answer record (a failure record where a turn
    failed), with the calls made and the level of the failure for the runner."""
    temperature = question_temperature(question, config.force_temperature, config.layout.manifest)
    choices: list[Choice] = []
    finish_reasons: list[list[str | None]] = []
    results: list[ChatResult] = []
    error: str | None = None
    level = Level.OK
    saved_usage = {"prompt_tokens": 0, "completion_tokens": 0}
    resumed = 0
    for index in range(config.num_choices):
        # A turn a killed run finished is not asked again: the conversation goes on from the next one.
        saved = partial.saved(question.question_id, index)[: max(0, len(question.turns) - 1)]
        replies: list[SplitReply] = [t.reply for t in saved]
        reasons: list[str | None] = [t.finish_reason for t in saved]
        resumed += len(saved)
        for t in saved:
            for key in saved_usage:
                saved_usage[key] += t.usage.get(key, 0)
        for turn in range(len(replies) + 1, len(question.turns) + 1):
            # Later turns carry the visible answers only, never the reasoning (as these models' own
            # chat templates drop it from the history); MT-Bench-101's carry its golden answers instead.
            messages = build_messages(config.system_prompt, question.turns[:turn],
                                      history_answers(question, [r.answer for r in replies]))
            result = await client.chat(config.model, messages, temperature=temperature, max_tokens=config.max_tokens,
                                       **config.extra_body)
            results.append(result)
            if result.failure is not None and result.failure.kind is FailureKind.CUT:
                # No content and no reasoning shown, cut at the limit: a model that reasons out of sight
                # (o-series, gpt-5) spent it all thinking. An empty answer, judged as such, never skipped.
                replies.append(SplitReply(answer="", cut=True))
                reasons.append(result.finish_reason)
                _save_turn(partial, question, index, turn, replies[-1], result)
                continue
            if not result.ok:
                where = f"choice {index} turn {turn}" if config.num_choices > 1 else f"turn {turn}"
                error, level = f"{where}: {result.error}", result.level
                break
            replies.append(config.reasoning.split(result.text, field=result.reasoning,
                                                  finish_reason=result.finish_reason))
            reasons.append(result.finish_reason)
            _save_turn(partial, question, index, turn, replies[-1], result)
        choices.append(choice_of(index, replies))
        finish_reasons.append(reasons)
        if error:  # the record is a failure either way; --retry-failed redoes the whole question
            break
    extra: dict[str, Any] = {
        "engine": "api",  # gen-answer's records say "hf"
        "api_model": config.model,
        "endpoint_model": next((r.model for r in results if r.model), None),
        "temperature": temperature,
        "max_tokens": config.max_tokens,
    }
    if config.system_prompt:
        extra["system_prompt"] = config.system_prompt
    if GOLDEN_KEY in question.extra:  # MT-Bench-101: each turn was asked after the golden history
        extra["history"] = "golden"
    if config.extra_body:
        extra["extra_body"] = dict(config.extra_body)
    extra.update(config.reasoning.record())
    extra["usage"] = {  # the answer's whole cost, turns saved by an earlier run included
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in results) + saved_usage["prompt_tokens"],
        "completion_tokens": sum(r.completion_tokens or 0 for r in results) + saved_usage["completion_tokens"],
        "calls": len(results),
        "attempts": sum(r.attempts for r in results),
        "latency_s": round(sum(r.latency_s for r in results), 3),
    }
    if resumed:
        extra["usage"]["resumed_turns"] = resumed  # turns taken from the .partial file, not asked again
    asked = {"temperature": temperature, "max_tokens": config.max_tokens, **config.extra_body}
    adapted = next((dict(r.params) for r in results if r.params is not None and dict(r.params) != asked), None)
    if adapted is not None:  # what was sent instead of the temperature and max_tokens above
        extra["request_params"] = adapted
    reported = [r.reasoning_tokens for r in results if r.reasoning_tokens is not None]
    if reported:  # part of completion_tokens, where the endpoint says how much
        extra["usage"]["reasoning_tokens"] = sum(reported)
    extra["finish_reasons"] = finish_reasons
    answer = Answer(
        question_id=question.question_id,
        model_id=config.model_id,
        choices=tuple(choices),
        answer_id=shortuuid.uuid(),
        tstamp=time.time(),
        error=error,
        extra=extra,
    )
    return Outcome(answer, level, error, calls=tuple(results))


def _save_turn(partial: PartialTurns, question: Question, choice: int, turn: int, reply: SplitReply,
               result: ChatResult) -> None:
    """Keep a finished turn that has a turn after it, so a kill before the answer is written loses nothing."""
    if turn < len(question.turns):
        usage = {"prompt_tokens": result.prompt_tokens or 0, "completion_tokens": result.completion_tokens or 0}
        partial.save(question.question_id, choice, turn, reply, result.finish_reason, usage)


def partial_settings(config: ApiAnswerConfig) -> dict[str, Any]:
    """What a turn's text depends on: a saved turn is reused only by a run with the same."""
    return {"engine": "api", "model": config.model, "system_prompt": config.system_prompt,
            "max_tokens": config.max_tokens, "force_temperature": config.force_temperature,
            "extra_body": dict(config.extra_body), "reasoning": config.reasoning.record()}


def generate_api_answers(config: ApiAnswerConfig) -> RunSummary:
    """Answer every question of the slice not yet answered in the answer file; see the module docstring."""
    questions = bench_questions(config.layout, config.question_begin, config.question_end, config.per_category)
    path = config.output_file
    started = time.monotonic()
    written: list[Answer] = []
    runner: Runner[Question, Answer] | None = None
    rate = RateController()
    with answer_run(path, "gen-api-answer"):
        todo = questions_to_ask(questions, existing_answers(path), config.retry_failed)
        if config.force_temperature is not None:
            overridden = sum(q.required_temperature is not None for q in todo)
            if overridden:
                log.warning("--force-temperature %g overrides the required_temperature of %d question(s)",
                            config.force_temperature, overridden)
        if todo:
            runner, rate = asyncio.run(_answer_all(config, todo, path, written))
    failed = tuple((a.question_id, a.error or "") for a in written if a.failed)
    return RunSummary(
        answer_file=path,
        selected=len(questions),
        skipped=len(questions) - len(todo),
        answered=len(written) - len(failed),
        failed=failed,
        prompt_tokens=runner.usage.prompt_tokens if runner else 0,
        completion_tokens=runner.usage.completion_tokens if runner else 0,
        truncated_turns=sum(r == "length" for a in written for c in a.extra["finish_reasons"] for r in c),
        elapsed_s=time.monotonic() - started,
        rate_limited=rate.rate_limited,
        waited_s=rate.waited_s,
        cut_while_reasoning=sum(len(c.cut_while_reasoning) for a in written for c in a.choices),
        unreached=sum(never_reached(a) for a in written),
    )


async def _answer_all(
    config: ApiAnswerConfig, todo: list[Question], path: Path, written: list[Answer]
) -> tuple[Runner[Question, Answer], RateController]:
    # the pooled transport: a quarter of the SDK's CPU per call, which is what limits --parallel 64+
    # adapt_params: a reasoning model that refuses max_tokens or temperature (o-series, gpt-5) is sent
    # max_completion_tokens / no temperature from then on, once per run, rather than failing every question.
    async with ChatClient(config.endpoint, max_connections=config.parallel, adapt_params=True) as client, \
            contextlib.AsyncExitStack() as stack:
        served = await client.list_models()
        unlisted = ""
        if served is not None and config.model not in served:
            shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
            unlisted = f"; it lists {shown or 'no model'}"
            log.warning("%s does not list the model %r%s; trying it anyway", client.base_url, config.model, unlisted)
        log.info("answering %d question(s) with %s at %s -> %s", len(todo), config.model, client.base_url, path)
        partial = stack.enter_context(PartialTurns(path, partial_settings(config)))
        runner: Runner[Question, Answer] = Runner(
            lambda q: _converse(client, config, q, partial), parallel=config.parallel, noun="question",
            label=lambda q: f"question {q.question_id}", desc=f"gen-api-answer {config.model_id}", unit="q",
            progress=config.progress,
        )
        # A failed first question stops the run before its record is written (not even an empty file
        # that would list the model), so a rerun asks it again.
        try:
            with JsonlWriter(path) as writer:
                async with contextlib.aclosing(runner.run(todo)) as results:
                    async for _, outcome in results:
                        writer.write(outcome.value)
                        written.append(outcome.value)
        except ProbeFailed as e:
            raise ProbeFailed(f"{e} (is {client.base_url} serving {config.model!r}{unlisted}?)") from None
        except EndpointFatal:
            raise  # a refused key or a wrong model name: no rerun helps until it is fixed
        except RunFailed as e:
            raise type(e)(f"{e} (a rerun asks the questions the endpoint never answered again)") from None
        except OSError as e:
            if e.filename is None:  # a write's ENOSPC names no file: name the one we were writing
                raise OSError(e.errno, e.strerror or str(e), str(path)) from None
            raise
    return runner, client.rate
