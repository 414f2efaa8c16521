"""Small helpers more than one test file needs (one definition each)."""

from __future__ import annotations

import http.server
import json
import socket
import sys
import traceback
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lines(path: Path, *, complete_only: bool = False) -> list[dict]:
    """The JSON objects of a JSONL file, blank lines skipped. ``complete_only``: a last line with no newline yet
    (a writer still at it, in another process) is not read."""
    text = Path(path).read_text()
    if complete_only:
        text = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class QuietHTTPServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server whose request errors (a client that hung up, a dropped connection the test
    provoked) go to the real stderr: ``sys.stderr`` may be an in-process CLI call's captured stream just then,
    and a late traceback from this server's thread must not land in that command's output."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        print(f"test server: error with a request from {client_address}", file=sys.__stderr__)
        traceback.print_exc(file=sys.__stderr__)
