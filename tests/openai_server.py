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
import logging
import math
import sys
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
    query: dict[str, str] = field(default_factory=dict)  # the URL's query (Azure's api-version)


def _server_logger() -> logging.Logger:
    logger = logging.getLogger("tests.openai_server")
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler(sys.__stderr__))
        logger.propagate = False
    return logger


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
        # The Batch API: uploaded files, and batches that end after ``batch_seconds`` as ``batch_ending``
        # says: "completed", "failed" (validation: no output), "expired" or "cancelled" (the first
        # ``batch_partial`` requests ran, the rest are in the error file as not run).
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_seconds = 0.2
        self.batch_ending = "completed"
        self.batch_partial = 0
        # Called (in the server's thread) at each Batch API step: "upload" (the file is stored),
        # "batch_created" (the batch exists, its id not yet sent), "poll", "download": kill tests.
        self.on_event: Callable[[str], None] | None = None

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
            self.requests.append(RecordedRequest(request.path, body, dict(request.headers), time.time(),
                                                 dict(request.query)))
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

    # -- the Batch API ---------------------------------------------------------------------------------
    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(request.path, body, dict(request.headers), time.time()))

    def _event(self, name: str) -> None:
        if self.on_event is not None:
            self.on_event(name)

    def _add_file(self, data: bytes, purpose: str, name: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1:04d}"
        self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": name, "purpose": purpose}

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        purpose = str(form.get("purpose", ""))
        self._record(request, {"purpose": purpose})
        if purpose != "batch" or not hasattr(upload, "file"):
            return web.json_response({"error": {"message": "expected purpose=batch and a file"}}, status=400)
        stored = self._add_file(upload.file.read(), purpose, upload.filename)  # type: ignore[union-attr]
        self._event("upload")
        return web.json_response(stored)

    async def _file_content(self, request: web.Request) -> web.Response:
        self._record(request, {})
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        self._event("download")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _create_batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        if body.get("input_file_id") not in self.files or body.get("endpoint") != "/v1/chat/completions":
            return web.json_response({"error": {"message": "bad input_file_id or endpoint"}}, status=400)
        batch_id = f"batch_{len(self.batches) + 1:04d}"
        lines = self.files[body["input_file_id"]].decode().splitlines()
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
            "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window"),
            "status": "in_progress", "output_file_id": None, "error_file_id": None,
            "created_at": int(time.time()), "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_due": time.monotonic() + self.batch_seconds, "_ending": self.batch_ending,
            "_partial": self.batch_partial,
        }
        self._event("batch_created")
        return web.json_response(self._public(self.batches[batch_id]))

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _finish(self, batch: dict[str, Any]) -> None:
        """Run a due batch's requests through the responder and write its output and error files."""
        lines = [json.loads(line) for line in self.files[batch["input_file_id"]].decode().splitlines()]
        ending = batch["_ending"]
        batch["status"] = ending
        if ending == "failed":
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "line": 1,
                                                           "message": "scripted validation failure"}]}
            return
        ran = lines if ending == "completed" else lines[: batch["_partial"]]
        output, errors = [], []
        for n, line in enumerate(lines):
            if n >= len(ran):
                errors.append({"id": f"req_{n}", "custom_id": line["custom_id"], "response": None,
                               "error": {"code": f"batch_{ending}", "message": f"not run: the batch {ending}"}})
                continue
            with self._lock:
                reply = self._queue.popleft() if self._queue else None
            if reply is None:
                produced = self.responder(line["body"])
                reply = completion(produced) if isinstance(produced, str) or produced is None else produced
            entry = {"id": f"req_{n}", "custom_id": line["custom_id"], "error": None,
                     "response": {"status_code": reply.status, "request_id": f"r{n}", "body": reply.body}}
            (output if reply.status == 200 else errors).append(entry)
        counts = batch["request_counts"]
        counts["completed"], counts["failed"] = len(output), len(errors)
        for key, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[key] = self._add_file(data, "batch_output", f"{batch['id']}_{key}.jsonl")["id"]

    async def _get_batch(self, request: web.Request) -> web.Response:
        self._record(request, {})
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        self._event("poll")
        if batch["status"] == "in_progress":
            if time.monotonic() >= batch["_due"]:
                self._finish(batch)
            else:
                total = batch["request_counts"]["total"]
                left = max(0.0, batch["_due"] - time.monotonic()) / max(self.batch_seconds, 1e-9)
                batch["request_counts"]["completed"] = int(total * (1 - left))
        return web.json_response(self._public(batch))

    async def _list_batches(self, request: web.Request) -> web.Response:
        self._record(request, {})
        data = [self._public(b) for b in reversed(self.batches.values())]  # newest first, as OpenAI
        return web.json_response({"object": "list", "data": data, "has_more": False,
                                  "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    @property
    def batch_creations(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/batches" and "input_file_id" in r.body]

    def submitted_custom_ids(self) -> list[str]:
        """The custom_id of every request in every batch created, repeats included."""
        return [json.loads(line)["custom_id"] for b in self.batches.values()
                for line in self.files[b["input_file_id"]].decode().splitlines()]

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        # Azure OpenAI's shape: the deployment in the path, ?api-version=... on every request
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/_stats", self._stats)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches", self._list_batches)
        app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
        # the server's own errors to the real stderr, never through the root logger: a CLI call running in this
        # process (tests/cli.py) captures what the root logger writes, and this is not that command's output
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=_server_logger())
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
