"""A loopback stand-in for the Hugging Face Hub's few upload endpoints (create a repo, preupload, commit).

Enough for ``huggingface_hub``'s own ``create_repo`` and ``upload_folder`` to run unchanged against
``HF_ENDPOINT=http://127.0.0.1:PORT``: every request is recorded (path, headers, JSON or NDJSON body), small
files are taken inline ("regular" upload mode), and the commit's files are kept, decoded, to be read back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class HubRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeHub:
    requests: list[HubRequest] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path in the repo -> content, as committed
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        text = raw.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = [json.loads(line) for line in text.splitlines() if line.strip()]
        self.requests.append(HubRequest(request.method, request.path, {k.lower(): v for k, v in request.headers.items()},
                                         body))
        parts = request.path.strip("/").split("/")
        if request.path == "/api/repos/create":
            return web.json_response({"url": f"{self.url}/datasets/{body['organization']}/{body['name']}",
                                      "name": f"{body['organization']}/{body['name']}"})
        if request.path == "/api/validate-yaml":  # the dataset card's metadata block
            return web.json_response({"errors": [], "warnings": []})
        if len(parts) >= 5 and parts[0] == "api" and parts[4] == "preupload":
            return web.json_response({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                for f in body["files"]]})
        if len(parts) >= 5 and parts[0] == "api" and parts[4] == "commit":
            for line in body:
                if line.get("key") == "file":
                    self.files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            repo = "/".join(parts[1:4])  # datasets/OWNER/NAME
            return web.json_response({"commitUrl": f"{self.url}/{repo}/commit/{'1' * 40}", "commitOid": "1" * 40,
                                      "commitMessage": "mtbench export"})
        return web.json_response({"error": f"not served here: {request.method} {request.path}"}, status=404)

    def __enter__(self) -> FakeHub:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
