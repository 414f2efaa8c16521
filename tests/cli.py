"""The one way tests run the ``mtbench`` command.

``mtbench(...)`` calls ``mtbench.cli.main(argv)`` in this process: the same parser, the same error handling,
the same exit codes, without the one to two seconds a fresh interpreter spends importing torch and openai.
``mtbench_process(...)`` starts a real ``python -m mtbench`` where a process is what is under test (signals,
kill -9, a lock held by another process, Ctrl-C, a browser, ``run`` end to end).

Both return a ``subprocess.CompletedProcess`` with text stdout/stderr, so a test reads either the same way.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# ``env`` maps a variable to its value, or to None to unset it for the call.
Env = Mapping[str, "str | None"]


def _capture() -> io.TextIOWrapper:
    # A text stream over bytes, so code that writes to ``sys.stdout.buffer`` works too.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace", newline="", write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", errors="replace")


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    # main() sets the root logger's level and handler for its run; a process ends there, this call must too,
    # or the next test's caplog sees records at a level it would not otherwise get
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


@contextlib.contextmanager
def _environment(env: Env | None, cwd: Path | str | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (env or {})}
    old_cwd = os.getcwd()
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(old_cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mtbench(*args: str | Path, env: Env | None = None, cwd: Path | str | None = None,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``mtbench ARGS`` through ``main()`` in this process; stdout, stderr (logging included) and the exit
    code captured. argparse's SystemExit (``--help``, ``--version``, a usage error) gives its code, as a process
    would."""
    from mtbench.cli import main

    argv = [str(a) for a in args]
    out, err = _capture(), _capture()
    with _environment(env, cwd), _logging_restored(), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err), _stdin(stdin):
        try:
            code = main(argv)
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:  # sys.exit("message"): printed to stderr, exit 1, as the interpreter does
                print(e.code, file=sys.stderr)
                code = 1
    return subprocess.CompletedProcess(["mtbench", *argv], code, _read(out), _read(err))


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = old


def process_env(env: Env | None = None) -> dict[str, str]:
    """This process's environment with ``env`` applied, and this checkout first on the import path."""
    merged = dict(os.environ)
    merged["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def mtbench_command(*args: str | Path) -> list[str]:
    """The argv of a real ``python -m mtbench ARGS`` (for Popen, where a test signals or kills it)."""
    return [sys.executable, "-m", "mtbench", *map(str, args)]


def mtbench_process(*args: str | Path, env: Env | None = None, cwd: Path | str | None = REPO,
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``mtbench ARGS`` as a real child process, run to its end."""
    return subprocess.run(mtbench_command(*args), capture_output=True, text=True, env=process_env(env), cwd=cwd,
                          timeout=timeout)
