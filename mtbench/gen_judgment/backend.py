"""Who judges: one interface for an API judge and a local one (in the spirit of inspect_ai's ``ModelAPI``).

A ``JudgeBackend`` is made from the judge's flags without calling or loading anything, so the plan can
ask it where it judges, what a call costs and what to check before the run; ``async with`` it preflights
the endpoint (``ApiJudge``) or loads the model (``LocalJudgeBackend``), and then the runner sends it the
judge's requests. The runner only calls these methods: it never asks which judge it holds.

The Batch API (``batch``) judges through its own upload-and-poll flow; what it shares with live judging
(the price, where it judges, the credentials) comes from ``ApiJudge`` all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import mtbench.gen_judgment.served_forced as served_forced
from mtbench.core.chat_result import ChatResult
from mtbench.core.client import ChatClient, EndpointConfig
from mtbench.core.cost import Price, price_for
from mtbench.gen_judgment.forced import choice_to_force
from mtbench.gen_judgment.local import LocalChatBackend, LocalJudge, load_backend
from mtbench.gen_judgment.matches import Match

log = logging.getLogger("mtbench")

LOCAL_PRICE = Price(0.0, 0.0)  # a local judge costs no money (its time is in the summary)


class JudgeBackend(Protocol):
    """Who judges, as the plan, the runner and the summary see it."""

    @property
    def where(self) -> str:
        """Where it judges, for the plan: ``at URL``, or ``(local, hf engine, PATH)``."""

    @property
    def calls(self) -> str:
        """The plan's and the summary's word for its calls: ``API`` (an endpoint) or ``judge`` (a local model)."""

    @property
    def can_batch(self) -> bool:
        """Whether it can judge through the Batch API (and so resume batches in flight)."""

    def price(self, input_price: float | None, output_price: float | None, *, batch: bool) -> Price | None:
        """What its tokens cost (USD per 1M), the given prices over the table's; None where unknown."""

    def price_note(self, price: Price | None, *, batch: bool) -> str:
        """The plan's note on the price: where it comes from, or which flags would give it."""

    def check_inputs(self) -> None:
        """A one-line UserError for what the flags alone show is wrong (a local model that is not there)."""

    def check_credentials(self) -> None:
        """A one-line UserError for a missing API key, before anything starts."""

    async def __aenter__(self) -> JudgeBackend: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def chat(self, model: str, messages: Sequence[dict[str, str]], *, temperature: float,
                   max_tokens: int, **extra: Any) -> ChatResult:
        """One judge reply, or a failure as a value (``ChatClient.chat``'s contract)."""

    async def force_verdict(self, match: Match, messages: Sequence[dict[str, str]],
                            result: ChatResult) -> tuple[ChatResult, float | None]:
        """``result``, or where it has no verdict and the judge can rank its options (``--force-verdict``),
        its most probable verdict and that verdict's probability."""

    def probe_hint(self, judge_model: str) -> str:
        """What to add to a failed first match's message (`` (is URL serving MODEL?)``), or nothing."""

    def rate_limits(self) -> tuple[int, float]:
        """Requests answered 429, and the seconds sends were held back for the provider's limits."""


class ApiJudge:
    """A judge behind an OpenAI-compatible endpoint, through the shared client."""

    def __init__(self, endpoint: EndpointConfig, judge_model: str, parallel: int, *, force_verdict: bool = False):
        self.endpoint = endpoint
        self.judge_model = judge_model
        self.parallel = parallel
        self.forcing = force_verdict  # ranked through the server's prompt log-probabilities (served_forced)
        self._client: ChatClient | None = None

    @property
    def where(self) -> str:
        return f"at {self.endpoint.resolved_base_url() or 'the OpenAI API'}"

    calls = "API"
    can_batch = True

    def price(self, input_price: float | None, output_price: float | None, *, batch: bool) -> Price | None:
        return price_for(self.judge_model, input_price=input_price, output_price=output_price, batch=batch)

    def price_note(self, price: Price | None, *, batch: bool) -> str:
        if price is None:
            flags = "--batch-price-input and --batch-price-output" if batch else "--price-input and --price-output"
            return f"{self.judge_model} {'batch ' if batch else ''}price unknown (give {flags})"
        return (f"at ${price.input:g} in / ${price.output:g} out per 1M tokens"
                + (", the Batch API's price" if batch else ""))

    def check_inputs(self) -> None:
        return None

    def check_credentials(self) -> None:
        self.endpoint.api_key()

    async def __aenter__(self) -> ApiJudge:
        # adapt_params: a reasoning judge that refuses max_tokens or temperature 0 is adapted to on the
        # probe, inside its one call, so the run goes on (see mtbench.core.request_params).
        client = ChatClient(self.endpoint, max_connections=self.parallel, adapt_params=True)
        await client.__aenter__()
        self._client = client
        try:
            await self._preflight(client)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:  # kept: its rate counts are read after the run (``rate_limits``)
            await self._client.__aexit__(*exc)

    async def _preflight(self, client: ChatClient) -> None:
        """One GET /models: an endpoint that is down or refuses the key stops the run here, in seconds."""
        served = await client.list_models()
        if served is not None and self.judge_model not in served:
            shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
            log.warning("%s does not list the judge model %r (it lists %s); trying it anyway",
                        client.base_url, self.judge_model, shown or "no model")
        if self.forcing:  # before any judge call: an endpoint that cannot rank is one line, not a run of failures
            await served_forced.probe(client, self.judge_model)

    @property
    def client(self) -> ChatClient:
        if self._client is None:
            raise RuntimeError("ApiJudge used outside `async with`")
        return self._client

    async def chat(self, model: str, messages: Sequence[dict[str, str]], *, temperature: float,
                   max_tokens: int, **extra: Any) -> ChatResult:
        return await self.client.chat(model, messages, temperature=temperature, max_tokens=max_tokens, **extra)

    async def force_verdict(self, match: Match, messages: Sequence[dict[str, str]],
                            result: ChatResult) -> tuple[ChatResult, float | None]:
        choice = choice_to_force(match, result) if self.forcing else None
        if choice is None:
            return result, None
        return choice.apply(result, await served_forced.rank(self.client, self.judge_model, messages, result.text,
                                                             choice))

    def probe_hint(self, judge_model: str) -> str:
        return f" (is {self.client.base_url} serving {judge_model!r}?)"

    def rate_limits(self) -> tuple[int, float]:
        rate = self.client.rate
        return rate.rate_limited, rate.waited_s


class LocalJudgeBackend:
    """A judge model loaded in this process (``--judge-model-path``), on gen-answer's engines."""

    def __init__(self, local: LocalJudge, judge_model: str, parallel: int, *, force_verdict: bool):
        self.local = local
        self.judge_model = judge_model
        self.parallel = parallel
        self.forcing = force_verdict
        self._backend: LocalChatBackend | None = None

    @property
    def where(self) -> str:
        return f"({self.local.describe()})"

    calls = "judge"
    can_batch = False

    def price(self, input_price: float | None, output_price: float | None, *, batch: bool) -> Price | None:
        return LOCAL_PRICE

    def price_note(self, price: Price | None, *, batch: bool) -> str:
        return "a local judge"

    def check_inputs(self) -> None:
        self.local.check_location()  # a wrong --judge-model-path is one line before anything is read

    def check_credentials(self) -> None:
        return None

    async def __aenter__(self) -> LocalJudgeBackend:
        backend = load_backend(self.local, self.judge_model, self.parallel, force_verdict=self.forcing)
        self._backend = await backend.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._backend is not None:
            await self._backend.__aexit__(*exc)

    @property
    def backend(self) -> LocalChatBackend:
        if self._backend is None:
            raise RuntimeError("LocalJudgeBackend used outside `async with`")
        return self._backend

    async def chat(self, model: str, messages: Sequence[dict[str, str]], *, temperature: float,
                   max_tokens: int, **extra: Any) -> ChatResult:
        return await self.backend.chat(model, messages, temperature=temperature, max_tokens=max_tokens, **extra)

    async def force_verdict(self, match: Match, messages: Sequence[dict[str, str]],
                            result: ChatResult) -> tuple[ChatResult, float | None]:
        choice = choice_to_force(match, result) if self.forcing else None
        if choice is None:
            return result, None
        return choice.apply(result, await self.backend.rank(messages, result.text, choice))

    def probe_hint(self, judge_model: str) -> str:
        return ""

    def rate_limits(self) -> tuple[int, float]:
        return 0, 0.0
