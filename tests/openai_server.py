"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It records every request and answers from a script: queued replies first, then a responder
function of the request body. Replies can carry latency, any status and headers (429 + Retry-After),
a malformed body, or a dropped connection. The real ``openai`` client talks to it over real sockets.

    with OpenAITestServer(lambda body: "Rating: [[7]]") as server:
        ... base_url=server.base_url ...
        server.requests  # what arrived, in order

Run standalone (for benchmarks, in a process of its own): ``python tests/openai_server.py --latency 0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list: sent as JSON; str/bytes: sent raw
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a hang, when longer than the client's timeout)
    drop: bool = False  # close the connection without answering
    cut_after: int | None = None  # send the status, headers and this many body bytes, then reset


def completion(content: str | None, *, model: str = "scripted-model", prompt_tokens: int = 11,
               completion_tokens: int = 7, finish_reason: str = "stop") -> Reply:
    return Reply(body={
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def error(status: int, message: str = "scripted error", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "test", "code": status}},
                 headers=headers or {})


def go_duration(seconds: float) -> str:
    """A duration as OpenAI's reset headers write it (Go's format): "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class RateLimit:
    """Token buckets like a provider's: ``requests`` and ``tokens`` per ``window_s`` seconds (60: RPM/TPM).

    A request is charged on arrival: one request, and its prompt's characters / 4 plus its max_tokens
    (how OpenAI counts). One that would overdraw either bucket is answered 429 with OpenAI's
    x-ratelimit-* headers, Retry-After and retry-after-ms; every reply carries the headers. As OpenAI
    documents ("unsuccessful requests contribute to your per-minute limit"), a refused request still
    counts against the requests bucket (``charge_refused``), so resending in a loop does not work.
    """

    requests: float
    tokens: float
    window_s: float = 60.0
    start_full: bool = True
    charge_refused: bool = True

    def __post_init__(self) -> None:
        self._levels = [self.requests, self.tokens] if self.start_full else [0.0, 0.0]
        self._stamp = time.monotonic()
        self.limited = 0  # requests answered 429
        self.admitted = 0
        self.tokens_charged = 0.0

    @staticmethod
    def cost(body: dict[str, Any]) -> float:
        chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [])
        return chars / 4 + float(body.get("max_tokens") or 0)

    def admit(self, body: dict[str, Any]) -> tuple[bool, dict[str, str]]:
        """Charge one request if both buckets allow it; the headers to send either way."""
        now = time.monotonic()
        caps = (self.requests, self.tokens)
        rates = [cap / self.window_s for cap in caps]
        self._levels = [min(cap, level + rate * (now - self._stamp))
                        for cap, level, rate in zip(caps, self._levels, rates, strict=True)]
        self._stamp = now
        need = (1.0, min(self.cost(body), self.tokens))
        ok = all(level >= n for level, n in zip(self._levels, need, strict=True))
        if ok:
            self._levels = [level - n for level, n in zip(self._levels, need, strict=True)]
            self.admitted += 1
            self.tokens_charged += need[1]
        else:
            self.limited += 1
            if self.charge_refused:
                self._levels[0] = max(0.0, self._levels[0] - 1)
        headers = {}
        for kind, cap, level, rate in zip(("requests", "tokens"), caps, self._levels, rates, strict=True):
            headers[f"x-ratelimit-limit-{kind}"] = str(int(cap))
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(level)))
            headers[f"x-ratelimit-reset-{kind}"] = go_duration((cap - level) / rate)
        if not ok:
            wait = max((n - level) / rate for level, n, rate in zip(self._levels, need, rates, strict=True))
            headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        return ok, headers


Responder = Callable[[dict[str, Any]], "Reply | str | None"]


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    time: float


class OpenAITestServer:
    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0, port: int = 0,
                 rate_limit: RateLimit | None = None):
        self.responder = responder or (lambda body: "ok")
        self.latency = latency
        self.rate_limit = rate_limit
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0

    # -- scripting -------------------------------------------------------------------------------------
    def enqueue(self, *replies: Reply | str) -> None:
        """Replies played in order before the responder is asked."""
        with self._lock:
            self._queue.extend(completion(r) if isinstance(r, str) else r for r in replies)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- server ----------------------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "bad json"}}, status=400)
        limited: dict[str, str] = {}
        with self._lock:
            self.requests.append(RecordedRequest(request.path, body, dict(request.headers), time.time()))
            if self.rate_limit is not None:
                admitted, limited = self.rate_limit.admit(body)
                if not admitted:
                    return web.json_response(
                        {"error": {"message": "Rate limit reached (scripted)", "type": "requests",
                                   "code": "rate_limit_exceeded"}}, status=429, headers=limited)
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            produced = self.responder(body)
            reply = completion(produced) if isinstance(produced, str) or produced is None else produced
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            delay = reply.delay + self.latency
            if delay:
                await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if reply.drop:
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("dropped by script")
        if reply.cut_after is not None:
            return await self._cut(request, reply)
        headers = {**limited, **reply.headers}
        if isinstance(reply.body, (dict, list)):
            return web.json_response(reply.body, status=reply.status, headers=headers)
        data = reply.body.encode() if isinstance(reply.body, str) else (reply.body or b"")
        return web.Response(body=data, status=reply.status, headers=headers,
                            content_type="application/json")

    async def _cut(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        """A reply that dies mid-body: a Content-Length it never reaches, then a reset connection."""
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        response = web.StreamResponse(status=reply.status, headers={**reply.headers, "Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: reply.cut_after])
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        raise ConnectionResetError("cut by script")

    async def _stats(self, request: web.Request) -> web.Response:
        """Counts for a benchmark in another process: chat requests, and the rate limiter's tallies."""
        limit = self.rate_limit
        return web.json_response({
            "chat_requests": len(self.chat_requests),
            "limited": limit.limited if limit else 0,
            "admitted": limit.admitted if limit else len(self.chat_requests),
            "tokens_charged": limit.tokens_charged if limit else 0.0,
        })

    async def _models(self, request: web.Request) -> web.Response:
        with self._lock:
            self.requests.append(RecordedRequest(request.path, {}, dict(request.headers), time.time()))
        return web.json_response({"object": "list", "data": [{"id": "scripted-model", "object": "model"}]})

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/_stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
        self._loop.run_until_complete(site.start())
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> OpenAITestServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible server for benchmarks")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--reply", default="Rating: [[7]]", help="content of every completion")
    parser.add_argument("--rpm", type=float, help="requests allowed per --window (a token bucket)")
    parser.add_argument("--tpm", type=float, help="tokens allowed per --window")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window in seconds (default: 60)")
    args = parser.parse_args()
    limit = None
    if args.rpm or args.tpm:
        limit = RateLimit(args.rpm or 1e12, args.tpm or 1e15, args.window)
    server = OpenAITestServer(lambda body: args.reply, latency=args.latency, port=args.port,
                              rate_limit=limit).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
