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
               completion_tokens: int = 7, finish_reason: str = "stop",
               system_fingerprint: str | None = None) -> Reply:
    fingerprint = {} if system_fingerprint is None else {"system_fingerprint": system_fingerprint}
    return Reply(body={**fingerprint,
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


# OpenAI's own 400 bodies for a reasoning model (o-series, gpt-5) sent a field it does not take.
MAX_TOKENS_REFUSED = {"error": {
    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
               "Use 'max_completion_tokens' instead.",
    "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter",
}}
TEMPERATURE_0_REFUSED = {"error": {
    "message": "Unsupported value: 'temperature' does not support 0 with this model. "
               "Only the default (1) value is supported.",
    "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value",
}}
TEMPERATURE_REFUSED = {"error": {
    "message": "Unsupported parameter: 'temperature' is not supported with this model.",
    "type": "invalid_request_error", "param": "temperature", "code": "unsupported_parameter",
}}


def reasoning_model_refusal(body: dict[str, Any]) -> Reply | None:
    """The 400 an OpenAI reasoning model answers ``body`` with (max_tokens first, then a temperature
    other than 1), or None where it would take the request."""
    if "max_tokens" in body:
        return Reply(status=400, body=MAX_TOKENS_REFUSED)
    if "temperature" in body and body["temperature"] != 1:
        return Reply(status=400, body=TEMPERATURE_0_REFUSED)
    return None


def with_reasoning(reply: Reply, reasoning: str | None = None, *, field: str = "reasoning_content",
                   reasoning_tokens: int | None = None) -> Reply:
    """``reply`` (a completion) with the reasoning a reasoning model sends beside its content, in
    ``field``, and the usage's ``completion_tokens_details.reasoning_tokens``."""
    if reasoning is not None:
        reply.body["choices"][0]["message"][field] = reasoning
    if reasoning_tokens is not None:
        reply.body["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return reply


Responder = Callable[[dict[str, Any]], "Reply | str | None"]


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    time: float


class OpenAITestServer:
    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0, port: int = 0):
        self.responder = responder or (lambda body: "ok")
        self.latency = latency
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
        with self._lock:
            self.requests.append(RecordedRequest(request.path, body, dict(request.headers), time.time()))
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
        if isinstance(reply.body, (dict, list)):
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        data = reply.body.encode() if isinstance(reply.body, str) else (reply.body or b"")
        return web.Response(body=data, status=reply.status, headers=reply.headers,
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
    args = parser.parse_args()
    server = OpenAITestServer(lambda body: args.reply, latency=args.latency, port=args.port).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
