"""The Batch API's files, both ways (pure): judge requests as JSONL lines, result lines as call results.

A request's ``custom_id`` is its match's key in a stable text form (and the game, for a pair's two
games), so every result maps back to exactly one match. The request body is the one live judging
sends (same messages, temperature, max_tokens), so a batch judgment is the judgment live judging
would have asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mtbench.core.chat_result import CallFailure, ChatResult, FailureKind, parse_completion, short_text
from mtbench.gen_judgment.matches import Match
from mtbench.gen_judgment.prompts import judge_messages

# OpenAI's limits per batch input file: 50,000 requests and 200 MB.
MAX_REQUESTS_PER_BATCH = 50_000
MAX_BYTES_PER_BATCH = 190 * 1024 * 1024  # some room under 200 MB


def match_id(match: Match) -> str:
    """The match's key as stable text: the sidecar's and the batch's name for it."""
    return json.dumps(match.key, separators=(",", ":"), ensure_ascii=False)


def custom_id(match: Match, game: int) -> str:
    """One request's id: the match key, plus the game (1, 2) for a pair's second request."""
    return match_id(match) if len(match.prompts) == 1 else f"{match_id(match)}#g{game}"


def request_lines(match: Match, model: str, fields: Mapping[str, Any]) -> list[bytes]:
    """The JSONL lines (with newline) of one match: one request per judge call, carrying ``fields``
    (temperature, max_tokens and the --judge-extra-body fields) as a live call does."""
    lines = []
    for game, text in enumerate(match.prompts, start=1):
        body = {"model": model, "messages": judge_messages(match.prompt, text), "n": 1, **fields}
        line = {"custom_id": custom_id(match, game), "method": "POST", "url": "/v1/chat/completions", "body": body}
        lines.append((json.dumps(line, ensure_ascii=False) + "\n").encode())
    return lines


def split_batches(
    matches: Sequence[Match], lines: Mapping[str, list[bytes]], *, max_requests: int, max_bytes: int
) -> list[list[Match]]:
    """Matches in groups whose files stay within ``max_requests`` lines and ``max_bytes`` bytes.

    A match's requests stay together (a pair's games are judged in one batch).
    """
    groups: list[list[Match]] = []
    count = size = 0
    for match in matches:
        mine = lines[match_id(match)]
        need, weight = len(mine), sum(map(len, mine))
        if groups and count + need <= max_requests and size + weight <= max_bytes:
            groups[-1].append(match)
            count, size = count + need, size + weight
        else:
            groups.append([match])
            count, size = need, weight
    return groups


def _status_failure(status: Any, body: Any, batch_id: str) -> CallFailure:
    detail = body.get("error", body) if isinstance(body, dict) else body
    message = detail.get("message") if isinstance(detail, dict) else detail
    return CallFailure(FailureKind.HTTP, f"batch request failed (HTTP {status} in {batch_id}): "
                       f"{short_text(str(message or 'no message'))}")


def parse_result_line(obj: Any, batch_id: str) -> tuple[str, ChatResult] | None:
    """One line of an output or error file as (custom_id, result); None for a line that names no request."""
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        return None
    cid = obj["custom_id"]
    response = obj.get("response")
    error = obj.get("error")
    if isinstance(response, dict) and response.get("status_code") == 200:
        return cid, parse_completion(response.get("body"))
    if isinstance(response, dict):
        return cid, ChatResult(failure=_status_failure(response.get("status_code"), response.get("body"), batch_id))
    message = error.get("message") if isinstance(error, dict) else error
    code = error.get("code") if isinstance(error, dict) else None
    reason = f"batch request failed ({code or 'error'} in {batch_id}): {short_text(str(message or 'no message'))}"
    return cid, ChatResult(failure=CallFailure(FailureKind.HTTP, reason))


def parse_results(data: bytes, batch_id: str) -> dict[str, ChatResult]:
    """Every request's result in an output or error file (lines that are not JSON are skipped)."""
    results = {}
    for raw in data.splitlines():
        try:
            parsed = parse_result_line(json.loads(raw), batch_id)
        except ValueError:
            continue
        if parsed is not None:
            results[parsed[0]] = parsed[1]
    return results


def match_results(match: Match, results: Mapping[str, ChatResult], missing: str) -> list[ChatResult]:
    """The results of a match's calls in game order; a request the batch never answered fails with ``missing``."""
    out = []
    for game in range(1, len(match.prompts) + 1):
        result = results.get(custom_id(match, game))
        out.append(result if result is not None else ChatResult(failure=CallFailure(FailureKind.HTTP, missing)))
    return out


def missing_reason(status: str, batch_id: str, errors: Iterable[Mapping[str, Any]] = ()) -> str:
    """Why a request has no result in a batch that ended ``status`` (failed, expired, cancelled, ...)."""
    said = "; ".join(str(e.get("message")) for e in errors if e.get("message"))
    if status == "failed":
        return f"batch failed ({batch_id}): {short_text(said or 'no reason given')}"
    return f"batch {status} ({batch_id}) before this request ran"
