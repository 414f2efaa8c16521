"""Headless Chromium for the browse/report tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright is only the client here: it launches the system browser (``executable_path``) and never
downloads one. Tests that need the browser skip, saying why, where Chromium or Playwright is absent
(CI installs Chromium with scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MTBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]


def require_browser() -> None:
    """Skip the calling test, with the reason, when the browser or its Python client is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Chromium (scripts/setup.sh: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install -e '.[test]')")


@contextmanager
def chromium() -> Iterator[object]:
    """A launched headless Chromium (a Playwright ``Browser``) with a fresh profile, closed afterwards."""
    require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright must never fetch a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    profile = tempfile.mkdtemp(prefix="mtbench-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrowseServer:
    """``mtbench browse`` as a subprocess on 127.0.0.1; ``url`` is what it printed once it listens."""

    def __init__(self, *args: str, timeout: float = 30.0):
        self.args = args
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> BrowseServer:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mtbench", "browse", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        deadline = time.monotonic() + self.timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the server says where it listens (or exits)
        if " at http://" not in line or time.monotonic() > deadline:
            self.__exit__()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"mtbench browse did not start: {line!r} {err}")
        self.url = line.split(" at ", 1)[1].split(" ", 1)[0]
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
