"""Running a judging plan: one output file held for the whole run, a preflight (or a local judge's model
load), then the calls.

The order is what keeps two runs from paying twice: the output file is locked first, then what it
holds is read, then the plan is made, printed and run. A second run on the same file is refused with
one line before it reads anything (``records.exclusive_output``).

The calls go through the shared fan-out runner (``mtbench.core.runner``), so the judge stops when
gen-api-answer would: a failed first match (probe), or a streak of matches the endpoint never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from mtbench.core.client import ChatClient, ChatResult
from mtbench.core.errors import RunFailed
from mtbench.core.jsonl import LazyJsonlWriter
from mtbench.core.records import PairJudgment, SingleJudgment, exclusive_output
from mtbench.core.runner import Outcome, ProbeFailed, Runner
from mtbench.gen_judgment.failures import failure_kind
from mtbench.gen_judgment.forced import choice_to_force
from mtbench.gen_judgment.local import LocalChatBackend, load_backend
from mtbench.gen_judgment.matches import Match, SingleMatch, sample_seed
from mtbench.gen_judgment.plan import JudgeConfig, JudgePlan, JudgeWork, check_budget, load_work, plan_for
from mtbench.gen_judgment.prompts import judge_messages
from mtbench.gen_judgment.results import JudgeSummary, match_outcome, record_failure_kinds

log = logging.getLogger("mtbench")


async def _preflight(client: ChatClient, judge_model: str) -> None:
    """One GET /models: an endpoint that is down or refuses the key stops the run here, in seconds."""
    served = await client.list_models()
    if served is not None and judge_model not in served:
        shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
        log.warning("%s does not list the judge model %r (it lists %s); trying it anyway",
                    client.base_url, judge_model, shown or "no model")


def _label(match: Match) -> str:
    who = match.model if isinstance(match, SingleMatch) else f"{match.model_1} vs {match.model_2}"
    sample = "" if match.sample is None else f" sample {match.sample}"
    return f"question {match.question_id} turn {match.turn} ({who}){sample}"


@contextlib.asynccontextmanager
async def _judge_backend(config: JudgeConfig) -> AsyncIterator[ChatClient | LocalChatBackend]:
    """Where the judge's calls go: the endpoint (after a preflight), or the local judge loaded here."""
    if config.local is not None:
        backend = load_backend(config.local, config.judge_model, config.parallel, force_verdict=config.force_verdict)
        async with backend:
            yield backend
        return
    # adapt_params: a reasoning judge that refuses max_tokens or temperature 0 is adapted to on the
    # probe, inside its one call, so the run goes on (see mtbench.core.request_params).
    async with ChatClient(config.endpoint, max_connections=config.parallel, adapt_params=True) as client:
        await _preflight(client, config.judge_model)
        yield client


async def _forced(
    backend: ChatClient | LocalChatBackend, match: Match, messages: list[dict[str, str]], result: ChatResult
) -> tuple[ChatResult, float | None]:
    """``result``, or with --force-verdict and no verdict in it, its forced verdict and that verdict's probability."""
    if not isinstance(backend, LocalChatBackend):
        return result, None
    choice = choice_to_force(match, result)
    if choice is None:
        return result, None
    return choice.apply(result, await backend.rank(messages, result.text, choice))


async def _run(plan: JudgePlan) -> JudgeSummary:
    config = plan.config
    started = time.monotonic()
    failures: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    sent = forced_count = 0

    reasoning_tokens: int | None = None
    async with _judge_backend(config) as client:

        async def work(match: Match) -> Outcome[SingleJudgment | PairJudgment | None]:
            nonlocal sent, forced_count
            results = []
            forced: dict[int, float] = {}
            seed = sample_seed(match.sample)
            sent_seed = {} if seed is None else {"seed": seed}
            # The two games of a pair one after the other, as FastChat: --parallel bounds requests in flight.
            for game, text in enumerate(match.prompts, 1):
                sent += 1
                messages = judge_messages(match.prompt, text)
                result = await client.chat(
                    config.judge_model, messages, temperature=config.temperature, max_tokens=config.max_tokens,
                    **{**config.extra_body, **sent_seed},  # a sample's own seed over --judge-extra-body's
                )
                if config.force_verdict:
                    result, probability = await _forced(client, match, messages, result)
                    if probability is not None:
                        forced[game] = probability
                results.append(result)
            forced_count += len(forced)
            return match_outcome(match, results, config.temperature, config.max_tokens, plan.provenance, forced)

        runner: Runner[Match, SingleJudgment | PairJudgment | None] = Runner(
            work, parallel=config.parallel, noun="match", label=_label, desc="judging", unit="match",
            progress=config.progress,
        )
        with contextlib.ExitStack() as files:
            writer = LazyJsonlWriter(plan.output, files)
            try:
                async with contextlib.aclosing(runner.run(plan.resume.todo)) as results:
                    async for _, outcome in results:
                        for call in outcome.calls:
                            if isinstance(call, ChatResult) and call.reasoning_tokens is not None:
                                reasoning_tokens = (reasoning_tokens or 0) + call.reasoning_tokens
                        if outcome.value is None:
                            unanswered[failure_kind(outcome.reason or "")] += 1
                        else:
                            writer.write(outcome.value)
                            failures.update(record_failure_kinds(outcome.value))
            except RunFailed as e:
                hint = f" (is {client.base_url} serving {config.judge_model!r}?)" if (
                    isinstance(e, ProbeFailed) and isinstance(client, ChatClient)) else ""
                saved = (f"{writer.written} judgment(s) saved to {plan.output}" if writer.written
                         else "nothing written")
                raise type(e)(
                    f"{e}{hint}; stopped after {sent} judge request(s), {saved}; "
                    "fix the cause and rerun the same command to resume"
                ) from None

    usage = runner.usage
    # completion_tokens include the reasoning tokens (OpenAI, vLLM, DeepSeek): all priced as output.
    cost = None if plan.price is None else plan.price.cost(usage.prompt_tokens, usage.completion_tokens)
    rate = client.rate if isinstance(client, ChatClient) else None
    return JudgeSummary(
        written=writer.written, failures=dict(failures), unanswered=dict(unanswered), calls=usage.calls,
        attempts=usage.attempts, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        cost=cost, elapsed_s=time.monotonic() - started, reasoning_tokens=reasoning_tokens,
        rate_limited=rate.rate_limited if rate else 0, waited_s=rate.waited_s if rate else 0.0,
        forced=forced_count, local=config.local is not None,
    )


def run_judging(plan: JudgePlan) -> JudgeSummary:
    """Judge every match the plan has left to do, appending each record the moment it is made.

    A kill at any moment loses only the calls in flight; a rerun skips what is on disk. The caller holds
    the output file (``judge`` does); this only writes.
    """
    if not plan.resume.todo:
        return JudgeSummary(0, {}, {}, 0, 0, 0, 0, 0.0 if plan.price else None, 0.0)
    return asyncio.run(_run(plan))


def judge(config: JudgeConfig, *, dry_run: bool = False, announce: Callable[[str], None] = print) -> JudgeSummary | None:
    """``mtbench judge``: hold the output, read what is done, plan, ``announce`` the plan, then run it.

    A dry run plans from the file as it is, announces, and is refused by ``--max-cost`` exactly as the
    real run would be. Returns None when nothing was run.
    """
    from mtbench.gen_judgment import batch

    if config.local is not None:
        config.local.check_location()  # a wrong --judge-model-path is one line before anything is read
    work = load_work(config)  # the inputs' problems first: nothing is created for a bad --data-dir
    if dry_run:
        plan = plan_for(_resume_batches(work, batch.sidecar_path(config.output)))
        announce(plan.describe())
        check_budget(plan, dry_run=True)
        return None
    with exclusive_output(config.output, "judge"):
        sidecar = batch.sidecar_path(config.output)
        work = _resume_batches(work, sidecar)
        plan = plan_for(work)
        announce(plan.describe())
        in_flight = bool(work.config.batch) and sidecar.exists()
        if in_flight:
            held = batch.Sidecar.load(sidecar)
            announce(f"batches in flight: {len(held.submissions)} holding {len(held.keys())} match(es) "
                     f"({sidecar}): resumed, not submitted again")
        check_budget(plan)
        if not plan.resume.todo and not in_flight:
            announce(plan.nothing_to_judge())
            return None
        if config.local is None:
            config.endpoint.api_key()  # a missing key is a user error before anything starts
        return batch.run_batch(plan) if work.config.batch else run_judging(plan)


def _resume_batches(work: JudgeWork, sidecar: Path) -> JudgeWork:
    """With neither --batch nor --no-batch, a run whose file has batches in flight resumes them."""
    if work.config.batch is None and work.config.local is None and sidecar.exists():
        return dataclasses.replace(work, config=dataclasses.replace(work.config, batch=True))
    return work
