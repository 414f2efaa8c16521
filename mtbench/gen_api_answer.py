"""Answers from an OpenAI-compatible endpoint (vLLM, transformers serve, the OpenAI API): FastChat's
``gen_api_answer`` on the shared client.

One conversation is one question times ``num_choices``; inside it the turns run in order, each turn
sending the whole history with the model's own earlier answers. Conversations run ``parallel`` at a
time. Each finished question is appended to the answer file at once, so a killed run loses only what
was in flight; a rerun skips what is on disk, and the end of a run rewrites the file sorted by
question id with one line per id (FastChat's ``reorg_answer_file``).

A run that cannot work stops early with one line: a preflight GET /models finds an unreachable URL or
a refused key in seconds, the first question runs alone and any failure of it stops the run before the
others fan out (a wrong model name fails there), and a streak of questions that failed after every
retry stops the run rather than marking the whole question set failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shortuuid
from tqdm import tqdm

from mtbench.answer_file import answer_run, existing_answers, questions_to_ask, select_questions
from mtbench.bench import BenchLayout, question_temperature
from mtbench.client import ChatClient, ChatResult, EndpointConfig, run_bounded
from mtbench.errors import RunFailed, UserError
from mtbench.records import (
    Answer,
    Choice,
    JsonlWriter,
    Question,
)

log = logging.getLogger("mtbench")

# Questions that fail after every retry, in a row, before a run gives up on the endpoint. Scaled up by
# --parallel, since that many conversations are in flight when an endpoint goes down together.
MIN_FAILURE_STREAK = 3


@dataclass(frozen=True)
class ApiAnswerConfig:
    """Everything one ``gen-api-answer`` run needs; built by the CLI, never from an argparse Namespace."""

    layout: BenchLayout
    model: str  # the name sent to the endpoint
    model_id: str  # the answer file's stem: the model's identity for judge and show
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    answer_file: Path | None = None  # default: layout.answer_file(model_id)
    num_choices: int = 1
    force_temperature: float | None = None
    max_tokens: int = 1024
    question_begin: int | None = None
    question_end: int | None = None
    parallel: int = 1
    system_prompt: str | None = None
    retry_failed: bool = False
    progress: bool = True

    @property
    def output_file(self) -> Path:
        return self.answer_file or self.layout.answer_file(self.model_id)


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


@dataclass(frozen=True)
class _Conversation:
    answer: Answer
    gave_up: bool  # failed after every retry: a sign the endpoint is down, not that the question is odd
    prompt_tokens: int
    completion_tokens: int


async def _converse(client: ChatClient, config: ApiAnswerConfig, question: Question) -> _Conversation:
    temperature = question_temperature(question, config.force_temperature)
    choices: list[Choice] = []
    finish_reasons: list[list[str | None]] = []
    results: list[ChatResult] = []
    error: str | None = None
    last: ChatResult | None = None
    for index in range(config.num_choices):
        answers: list[str] = []
        reasons: list[str | None] = []
        for turn in range(1, len(question.turns) + 1):
            messages = build_messages(config.system_prompt, question.turns[:turn], answers)
            last = await client.chat(config.model, messages, temperature=temperature, max_tokens=config.max_tokens)
            results.append(last)
            if not last.ok:
                error = f"choice {index} turn {turn}: {last.error}" if config.num_choices > 1 else f"turn {turn}: {last.error}"
                break
            answers.append(last.text)
            reasons.append(last.finish_reason)
        choices.append(Choice(index=index, turns=tuple(answers)))
        finish_reasons.append(reasons)
        if error:  # the record is a failure either way; --retry-failed redoes the whole question
            break
    prompt_tokens = sum(r.prompt_tokens or 0 for r in results)
    completion_tokens = sum(r.completion_tokens or 0 for r in results)
    extra: dict[str, Any] = {
        "api_model": config.model,
        "endpoint_model": next((r.model for r in results if r.model), None),
        "temperature": temperature,
        "max_tokens": config.max_tokens,
    }
    if config.system_prompt:
        extra["system_prompt"] = config.system_prompt
    extra["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "calls": len(results),
        "attempts": sum(r.attempts for r in results),
        "latency_s": round(sum(r.latency_s for r in results), 3),
    }
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
    gave_up = last is not None and not last.ok and last.attempts > config.endpoint.retry.max_retries
    return _Conversation(answer, gave_up, prompt_tokens, completion_tokens)


def _check(config: ApiAnswerConfig) -> None:
    checks = [
        (config.num_choices >= 1, f"--num-choices must be at least 1, got {config.num_choices}"),
        (config.max_tokens >= 1, f"--max-tokens must be at least 1, got {config.max_tokens}"),
        (config.parallel >= 1, f"--parallel must be at least 1, got {config.parallel}"),
        (config.force_temperature is None or config.force_temperature >= 0,
         f"--force-temperature must be 0 or more, got {config.force_temperature}"),
        (config.endpoint.timeout > 0, f"--timeout must be more than 0, got {config.endpoint.timeout:g}"),
        (config.endpoint.retry.max_retries >= 0,
         f"--max-retries must be 0 or more, got {config.endpoint.retry.max_retries}"),
        (bool(config.model.strip()), "--model must not be empty"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    url = config.endpoint.resolved_base_url()
    if url and not url.startswith(("http://", "https://")):
        raise UserError(f"--openai-api-base must be an http:// or https:// URL, got {url!r}")


def generate_api_answers(config: ApiAnswerConfig) -> RunSummary:
    """Answer every question of the slice not yet answered in the answer file; see the module docstring."""
    _check(config)
    questions = select_questions(config.layout.question_file, config.question_begin, config.question_end)
    path = config.output_file
    started = time.monotonic()
    with answer_run(path, "gen-api-answer"):
        todo = questions_to_ask(questions, existing_answers(path), config.retry_failed)
        if config.force_temperature is not None:
            overridden = sum(q.required_temperature is not None for q in todo)
            if overridden:
                log.warning("--force-temperature %g overrides the required_temperature of %d question(s)",
                            config.force_temperature, overridden)
        tally = asyncio.run(_answer_all(config, todo, path)) if todo else _Tally()
    failed = tuple((a.question_id, a.error or "") for a in tally.answers if a.failed)
    return RunSummary(
        answer_file=path,
        selected=len(questions),
        skipped=len(questions) - len(todo),
        answered=len(tally.answers) - len(failed),
        failed=failed,
        prompt_tokens=tally.prompt_tokens,
        completion_tokens=tally.completion_tokens,
        truncated_turns=tally.truncated_turns,
        elapsed_s=time.monotonic() - started,
    )


@dataclass
class _Tally:
    """What a run has written so far, and its current streak of questions that failed after every retry."""

    answers: list[Answer] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    truncated_turns: int = 0
    streak: int = 0

    def add(self, conversation: _Conversation) -> None:
        self.answers.append(conversation.answer)
        self.prompt_tokens += conversation.prompt_tokens
        self.completion_tokens += conversation.completion_tokens
        self.failures += conversation.answer.failed
        self.truncated_turns += sum(r == "length" for c in conversation.answer.extra["finish_reasons"] for r in c)
        if conversation.gave_up:
            self.streak += 1
        elif not conversation.answer.failed:  # a 400 on one odd question says nothing of the endpoint
            self.streak = 0


async def _answer_all(config: ApiAnswerConfig, todo: list[Question], path: Path) -> _Tally:
    tally = _Tally()
    streak_limit = max(MIN_FAILURE_STREAK, config.parallel)
    # the pooled transport: a quarter of the SDK's CPU per call, which is what limits --parallel 64+
    async with ChatClient(config.endpoint, max_connections=config.parallel) as client:
        served = await client.list_models()
        unlisted = ""
        if served is not None and config.model not in served:
            shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
            unlisted = f"; it lists {shown or 'no model'}"
            log.warning("%s does not list the model %r%s; trying it anyway", client.base_url, config.model, unlisted)
        log.info("answering %d question(s) with %s at %s -> %s", len(todo), config.model, client.base_url, path)
        bar = tqdm(total=len(todo), desc=f"gen-api-answer {config.model_id}", unit="q",
                   file=sys.stderr, disable=not config.progress, dynamic_ncols=True)
        with bar:
            # The first question runs alone, and its failure stops the run before the others fan out: an
            # endpoint that answers nothing, or rejects the model name (vLLM says 404, transformers serve
            # 400), fails once here instead of once per question. Nothing is written (not even an empty
            # file that would list the model), so a rerun asks it again.
            first = await _converse(client, config, todo[0])
            if first.answer.failed:
                raise RunFailed(
                    f"question {todo[0].question_id}, the first of {len(todo)}, failed: {first.answer.error}; "
                    f"stopped before the others (is {client.base_url} serving {config.model!r}{unlisted}?)"
                )
            with JsonlWriter(path) as writer:

                def record(conversation: _Conversation) -> None:
                    writer.write(conversation.answer)
                    tally.add(conversation)
                    bar.update(1)
                    if conversation.answer.failed:
                        bar.set_postfix(failed=tally.failures, refresh=False)

                record(first)
                work = lambda q: _converse(client, config, q)  # noqa: E731
                async with contextlib.aclosing(run_bounded(todo[1:], work, parallel=config.parallel)) as results:
                    async for _, conversation in results:
                        record(conversation)
                        if tally.streak >= streak_limit:
                            done = len(tally.answers)
                            raise RunFailed(
                                f"stopped: the last {tally.streak} questions failed after every retry "
                                f"({conversation.answer.error}); {done} of {len(todo)} written, "
                                f"{len(todo) - done} left for a rerun (add --retry-failed to redo the failures)"
                            )
    return tally
