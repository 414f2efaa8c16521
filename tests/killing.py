"""Killing a real CLI run mid-way: the one helper the kill-then-rerun tests share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO


def kill_after_lines(args: list[str], path: Path, lines: int, env: dict[str, str] | None = None,
                     timeout: float = 240) -> int:
    """Run ``mtbench ARGS``, SIGKILL it once ``path`` holds ``lines`` lines; the lines it held then."""
    proc = subprocess.Popen([sys.executable, "-m", "mtbench", *args], env={**os.environ, **(env or {})}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and path.read_text().count("\n") >= lines:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    return path.read_text().count("\n")
