"""Forced verdicts from a served judge (``--force-verdict`` without ``--judge-model-path``).

A server that returns the log-probabilities of a given text can rank the fixed continuations the local
judge ranks (``forced``). vLLM's OpenAI server does, on /v1/chat/completions with ``prompt_logprobs``:
the judge's messages are sent with its reply, the fixed text and one option as the assistant's last
message, continued rather than closed (``continue_final_message``, ``add_generation_prompt: false``), so
the server renders with its own chat template the very text the local judge scores (the prompt, the
reply, then the fixed text). Each option's log-probability is the sum over the tokens where its request
departs from the request without an option, minus that request's own over the same span: exactly
log P(option | text) whatever the tokenizer merges at the seam.

Where the endpoint cannot (an OpenAI-style API, a server without prompt log-probabilities), the probe
(``probe``, once, before any judge call) refuses in one line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from mtbench.core.client import ChatClient
from mtbench.core.errors import RunFailed, UserError
from mtbench.gen_judgment.forced import ForcedChoice

TokenLogprobs = list[tuple[str, float]]  # (token id, log-probability) per prompt token after the first


def _body(model: str, messages: Sequence[Mapping[str, str]], text: str) -> dict[str, Any]:
    return {
        "model": model, "messages": [*map(dict, messages), {"role": "assistant", "content": text}],
        "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0,
        "continue_final_message": True, "add_generation_prompt": False,
    }


def _token_logprobs(reply: Mapping[str, Any]) -> TokenLogprobs | None:
    """vLLM's ``prompt_logprobs``: a list with None first, then {token id: {"logprob": ...}} per token
    (with 0 asked, the prompt's own token alone); None where the reply has none."""
    steps = reply.get("prompt_logprobs")
    if not isinstance(steps, list) or len(steps) < 2:
        return None
    out: TokenLogprobs = []
    for step in steps[1:]:
        if not isinstance(step, dict) or len(step) != 1:
            return None
        ((token, value),) = step.items()
        logprob = value.get("logprob") if isinstance(value, dict) else None
        if not isinstance(logprob, (int, float)):
            return None
        out.append((str(token), float(logprob)))
    return out


async def _logprobs(client: ChatClient, model: str, messages: Sequence[Mapping[str, str]], text: str) -> TokenLogprobs:
    try:
        reply = await client.post_chat_body(_body(model, messages, text))
    except (openai.APIError, ValueError) as e:
        raise RunFailed(f"--force-verdict: {client.base_url} refused a prompt log-probability request: "
                        f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    found = _token_logprobs(reply)
    if found is None:
        raise RunFailed(f"--force-verdict: {client.base_url} returned no prompt log-probabilities")
    return found


async def probe(client: ChatClient, model: str) -> None:
    """One request: does the endpoint return prompt log-probabilities of a continued assistant message?"""
    try:
        reply = await client.post_chat_body(_body(model, [{"role": "user", "content": "Say A."}], "A"))
    except openai.APIStatusError as e:
        raise UserError(_cannot(client, f"it answered HTTP {e.status_code}")) from None
    except (openai.APIError, ValueError) as e:
        raise UserError(_cannot(client, type(e).__name__)) from None
    if _token_logprobs(reply) is None:
        raise UserError(_cannot(client, "its reply has no prompt_logprobs"))


def _cannot(client: ChatClient, why: str) -> str:
    return (f"--force-verdict: {client.base_url} cannot give the log-probabilities of a given text ({why}); "
            "serve the judge with vLLM's OpenAI server, or judge in-process with --judge-model-path, or drop "
            "--force-verdict")


def _tail_sum(steps: TokenLogprobs, start: int) -> float:
    return sum(lp for _, lp in steps[start:])


async def rank(client: ChatClient, model: str, messages: Sequence[Mapping[str, str]], reply: str,
               choice: ForcedChoice) -> list[float]:
    """The probability of each of ``choice``'s options after the messages, the reply and the fixed text
    (a softmax over the options' log-probabilities, as ``LocalChatBackend.rank``)."""
    base = await _logprobs(client, model, messages, reply + choice.prefix)
    scores = []
    for option in choice.options:
        full = await _logprobs(client, model, messages, reply + choice.prefix + option)
        seam = next((i for i, (a, b) in enumerate(zip(base, full, strict=False)) if a[0] != b[0]), len(base))
        scores.append(_tail_sum(full, seam) - _tail_sum(base, seam))
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return [w / sum(weights) for w in weights]
