"""A local judge: the judge model runs in this process, on gen-answer's engines, behind the client's shape.

``LocalChatBackend.chat`` is a coroutine with ``ChatClient.chat``'s signature that returns ``ChatResult``s,
so the judge's runner (resume, failures, samples, records, progress) is the same code for a local judge
as for an API judge. The requests the runner keeps in flight (``--parallel``) are gathered into one batch
and run through the engine in one worker thread: the engine is not thread-safe, and the event loop stays
free for the writer and the progress bar while a batch runs.

``LocalJudge`` is the ``--judge-*`` flags as a frozen record; its errors name those flags (the loaders
underneath are gen-answer's and name gen-answer's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.core.chat_result import CallFailure, ChatResult, FailureKind
from mtbench.core.errors import UserError
from mtbench.core.templates import ASSISTANT, USER, ConversationFormat, Message, NamedTemplate
from mtbench.gen_model_answer.config import DEVICES, DTYPES, ENGINES, ModelSpec

if TYPE_CHECKING:
    from mtbench.gen_judgment.forced import ForcedChoice
    from mtbench.gen_model_answer.engine import GenerationOutput, Generator

# gen-answer's flag names as its loaders write them, and the judge's for the same thing.
_GEN_ANSWER_FLAG = re.compile(r"(?<![\w-])--(model-path|gguf-file|engine|dtype|device|chat-template)\b")


def judge_flags(message: str) -> str:
    """``message`` with gen-answer's model flags renamed to the judge's (``--model-path`` ->
    ``--judge-model-path``): a local judge's load errors must name the flag the user typed."""
    return _GEN_ANSWER_FLAG.sub(r"--judge-\1", message)


@dataclass(frozen=True)
class LocalJudge:
    """Which local model judges and how it is loaded (``--judge-model-path`` and its companions)."""

    path: str
    gguf_file: str | None = None
    engine: str = "hf"
    dtype: str | None = None  # None: float16 on CUDA, float32 on CPU (as gen-answer)
    device: str = "auto"
    chat_template: str | None = None  # None: the tokenizer's own

    def __post_init__(self) -> None:
        for flag, value, choices in (("--judge-engine", self.engine, ENGINES), ("--judge-device", self.device, DEVICES),
                                     ("--judge-dtype", self.dtype, DTYPES)):
            if value is not None and value not in choices:
                raise UserError(f"{flag} must be one of {', '.join(choices)}; got {value!r}")
        if not self.path.strip():
            raise UserError("--judge-model-path must not be empty")

    @property
    def name(self) -> str:
        """The judge's default name: the GGUF file's stem where one is given (a folder may hold several
        quantizations), else the model folder's name."""
        if self.gguf_file:
            return Path(self.gguf_file).name.removesuffix(".gguf")
        return Path(self.path.rstrip("/")).name or self.path

    def spec(self, batch_size: int) -> ModelSpec:
        return ModelSpec(path=self.path, engine=self.engine, gguf_file=self.gguf_file, dtype=self.dtype,
                         device=self.device, chat_template=self.chat_template, batch_size=batch_size)

    def check_location(self) -> None:
        """A one-line UserError when the model is not where the flags say (files only, nothing loaded)."""
        from mtbench.gen_model_answer.hf_loading import check_model_location

        try:
            check_model_location(self.spec(1))
        except UserError as e:
            raise UserError(judge_flags(str(e))) from None

    def describe(self) -> str:
        where = self.path + (f" ({self.gguf_file})" if self.gguf_file else "")
        return f"local, {self.engine} engine, {where}"


def render_judge_prompt(template: ConversationFormat, messages: Sequence[Mapping[str, str]]) -> str:
    """FastChat's judge messages (an optional system message, then the user's) as the prompt the judge
    continues. A named template takes the system message in its own system slot (FastChat's
    ``set_system_message``); a chat template gets it as a ``system`` turn."""
    system = "".join(m["content"] for m in messages if m["role"] == "system")
    turns: list[Message] = [(USER if m["role"] == "user" else ASSISTANT, m["content"])
                            for m in messages if m["role"] != "system"]
    if isinstance(template, NamedTemplate):
        return dataclasses.replace(template, system_message=system or template.system_message).render(turns)
    return template.render(([("system", system)] if system else []) + turns)


@dataclass
class _Request:
    prompt: str
    temperature: float
    max_tokens: int
    seed: int
    done: asyncio.Future[ChatResult]


def _result(out: GenerationOutput, model: str, latency_s: float) -> ChatResult:
    """One generation as the client would have returned it: a reply, or a failure that says why."""
    common: dict[str, Any] = dict(model=model, prompt_tokens=out.prompt_tokens, completion_tokens=out.new_tokens,
                                  finish_reason=out.finish_reason, latency_s=latency_s)
    if out.text is None:
        return ChatResult(failure=CallFailure(FailureKind.MALFORMED, f"local judge: {out.error}"), **common)
    if not out.text.strip():
        kind, why = ((FailureKind.CUT, "cut by the token limit") if out.finish_reason == "length"
                     else (FailureKind.EMPTY, "the judge ended its reply at once"))
        return ChatResult(failure=CallFailure(kind, f"empty reply: {why}"), **common)
    return ChatResult(text=out.text, **common)


class LocalChatBackend:
    """``ChatClient.chat`` for a model in this process: concurrent requests are gathered into batches of
    at most ``batch_size`` and generated in one worker thread. Use as an async context manager."""

    def __init__(self, engine: Generator, model: str, batch_size: int, where: str):
        self.engine = engine
        self.model = model
        self.batch_size = batch_size
        self.base_url = where  # what messages name where an API judge's would name its URL
        self._queue: list[_Request] = []
        self._drainer: asyncio.Task[None] | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-judge")

    async def __aenter__(self) -> LocalChatBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
        self._thread.shutdown(wait=True, cancel_futures=True)

    async def chat(self, model: str, messages: Sequence[Mapping[str, str]], *, temperature: float,
                   max_tokens: int, seed: int | None = None, **extra: Any) -> ChatResult:
        """One judge reply (``model`` is the judge's name; the model is the one loaded). Never raises for
        one bad prompt: a failure is a value, as the client's."""
        if extra:
            raise UserError(f"a local judge takes no request fields ({', '.join(sorted(extra))})")
        request = _Request(render_judge_prompt(self.engine.template, messages), temperature, max_tokens,
                           seed or 0, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await request.done

    async def _drain(self) -> None:
        from mtbench.gen_model_answer.engine import SamplingParams

        loop = asyncio.get_running_loop()
        while self._queue:
            # Let every task the runner has just started queue its request: they make one batch.
            for _ in range(3):
                await asyncio.sleep(0)
            batch, self._queue = self._queue[: self.batch_size], self._queue[self.batch_size :]
            params = [SamplingParams(r.temperature, r.max_tokens, r.seed) for r in batch]
            started = time.monotonic()
            try:
                outputs = await loop.run_in_executor(
                    self._thread, self.engine.generate, [r.prompt for r in batch], params)
            except Exception as e:  # noqa: BLE001 - an engine bug fails these requests, as values
                from mtbench.gen_model_answer.engine import GenerationOutput, first_line

                outputs = [GenerationOutput.failure(f"{type(e).__name__}: {first_line(e)}")] * len(batch)
            latency = time.monotonic() - started
            try:
                for request, out in zip(batch, outputs, strict=True):
                    if not request.done.done():
                        request.done.set_result(_result(out, self.model, latency))
            except Exception as e:  # a bug here must fail its requests, not leave them waiting forever
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(e)

    async def rank(self, messages: Sequence[Mapping[str, str]], reply: str, choice: ForcedChoice) -> list[float]:
        """The probability of each of ``choice``'s options after the judge's prompt, its ``reply`` and the
        choice's fixed text (a softmax over the options' summed log-probabilities)."""
        prompt = render_judge_prompt(self.engine.template, messages) + reply + choice.prefix
        scorer: Any = self.engine
        logprobs = await asyncio.get_running_loop().run_in_executor(
            self._thread, scorer.score_options, prompt, list(choice.options))
        top = max(logprobs)
        weights = [math.exp(lp - top) for lp in logprobs]
        return [w / sum(weights) for w in weights]


def load_backend(local: LocalJudge, model: str, batch_size: int, *, force_verdict: bool) -> LocalChatBackend:
    """Load the judge's model (once, for the run) on its engine."""
    from mtbench.gen_model_answer.engines import load_engine

    try:
        engine = load_engine(local.spec(batch_size))
    except UserError as e:
        raise UserError(judge_flags(str(e))) from None
    if force_verdict and not callable(getattr(engine, "score_options", None)):
        raise UserError(f"--force-verdict: the {local.engine} engine cannot rank options (no score_options)")
    try:  # a chat template that refuses a system message would fail every match: say so now
        render_judge_prompt(engine.template, [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    except Exception as e:  # noqa: BLE001 - Jinja raises whatever the template's author chose
        raise UserError(
            f"--judge-model-path {local.path}: its chat template cannot render a system message and a user "
            f"message ({type(e).__name__}: {e}); pass --judge-chat-template"
        ) from None
    return LocalChatBackend(engine, model, batch_size, local.describe())
