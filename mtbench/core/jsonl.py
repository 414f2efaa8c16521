"""The one JSONL reader and writer every command uses, and the lock a run holds on its output file.

Reading names ``file:line`` in every error and forgives exactly one thing: a last line without its
newline that does not parse, which is a write cut short by a kill. Writing is append-only, one flushed
line per record (``JsonlWriter``), or an atomic rewrite (``rewrite_jsonl``). ``exclusive_output`` keeps
two runs off one file.

This module knows lines and objects, not MT-bench's record types: those live in ``mtbench.core.records``,
which imports (and re-exports) this module; the typed loaders are in ``mtbench.core.record_files``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import shlex
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from mtbench.core.errors import UserError

log = logging.getLogger("mtbench")

R = TypeVar("R")
K = TypeVar("K")


class RecordError(UserError):
    """A file that cannot be read as records; the message starts with ``file:`` or ``file:line:``."""


class FieldError(ValueError):
    """Why one line is not a record (raised by ``from_json``); the reader prefixes it with ``file:line``."""


class LineError(RecordError):
    """One line of ``path`` is not a record. The message says how to set the line aside."""

    def __init__(self, path: str | os.PathLike[str], line: int, reason: str):
        self.path = Path(path)
        self.line = line
        self.reason = reason
        super().__init__(
            f"{path}:{line}: {reason}; run `mtbench repair {shlex.quote(str(path))}` to set the bad line aside"
        )


class Record(Protocol):
    def to_json(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------------
# reading


class _Unreadable(FieldError):
    """Not UTF-8 or not JSON: what a torn write looks like (a whole JSON value of the wrong type does not)."""


def decode_line(raw: bytes) -> dict[str, Any]:
    """One JSONL line as an object, or ``FieldError`` saying why it is not one."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Unreadable("not valid UTF-8") from None
    except json.JSONDecodeError as e:
        # "Unterminated string starting at" already ends in "at"
        raise _Unreadable(f"not valid JSON ({e.msg.removesuffix(' at')} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise FieldError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def parse_line(raw: bytes, parse: Callable[[Mapping[str, Any]], R]) -> R:
    """One JSONL line as a record (``parse`` is a ``from_json``), or ``FieldError`` saying why it is not one."""
    return parse(decode_line(raw))


def read_lines(path: str | os.PathLike[str]) -> tuple[list[bytes], bool]:
    """The lines of ``path`` (split on ``\\n``) and whether its last line lacks its newline."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a JSONL file") from None
    return data.split(b"\n"), not data.endswith(b"\n")


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line.

    A final line without its newline that does not parse is a write cut short by a kill: it is
    reported as a warning and skipped, never an error. Any other bad line is a ``LineError``.
    """
    lines, torn_tail = read_lines(path)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = decode_line(raw)
        except _Unreadable as e:
            if number == len(lines) and torn_tail:
                log.warning("%s:%d: incomplete last line (a run stopped mid-write); ignored", path, number)
                return
            raise LineError(path, number, str(e)) from None
        except FieldError as e:
            raise LineError(path, number, str(e)) from None
        yield number, obj


def read_records(path: str | os.PathLike[str], parse: Callable[[Mapping[str, Any]], R]) -> list[tuple[int, R]]:
    """Parse every line of ``path`` with ``parse`` (a ``from_json``); returns (line number, record)."""
    out = []
    for number, obj in iter_jsonl(path):
        try:
            out.append((number, parse(obj)))
        except FieldError as e:
            raise LineError(path, number, str(e)) from None
    return out


def load_records(path: str | os.PathLike[str], parse: Callable[[Mapping[str, Any]], R]) -> list[R]:
    """The records of ``path`` in file order."""
    return [record for _, record in read_records(path, parse)]


def latest_by_key(records: Iterable[R], key: Callable[[R], K]) -> dict[K, R]:
    """One record per key, the last one in file order (what a rerun that appended meant to keep)."""
    out: dict[K, R] = {}
    for record in records:
        out[key(record)] = record
    return out


# ---------------------------------------------------------------------------------------------------
# writing


def dumps(record: Record) -> str:
    """One JSONL line. ASCII-escaped like FastChat's ``json.dumps``, so our files diff cleanly with theirs."""
    return json.dumps(record.to_json()) + "\n"


def repair_torn_tail(path: Path) -> None:
    """Make ``path`` end on a line boundary before anything is appended to it.

    A kill mid-write leaves a last line without its newline; appending to it would glue the next record
    on and corrupt both. A complete JSON line that only lacks the newline gets one; a fragment is cut.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("%s: dropping an incomplete last line (a run stopped mid-write)", path)
            f.truncate(cut)
        else:
            f.seek(0, os.SEEK_END)
            f.write(b"\n")


class JsonlWriter:
    """Append-only writer: each record is one line, flushed as soon as it is written.

    A process killed at any moment leaves every written record intact and at most one torn last line,
    which readers skip and the next writer repairs.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._file: IO[str] | None = None

    def __enter__(self) -> JsonlWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")
        return self

    def write(self, record: Record) -> None:
        """Append ``record`` as one line and flush it."""
        assert self._file is not None, "use JsonlWriter as a context manager"
        with naming(self.path):
            self._file.write(dumps(record))
            self._file.flush()

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with naming(self.path):
                file.close()


@contextlib.contextmanager
def naming(path: str | os.PathLike[str]) -> Iterator[None]:
    """A write's OS error names ``path``: a full disk's ENOSPC from write() or close() carries no file name,
    and "No space left on device" alone does not say which file (or which disk)."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise


class LazyJsonlWriter:
    """Appends records, opening the file only for the first one: a run that writes nothing (a refused
    key, an endpoint that never answers) leaves no empty file that would list the judge or model."""

    def __init__(self, path: Path, stack: contextlib.ExitStack):
        self.path = path
        self._stack = stack
        self._writer: JsonlWriter | None = None
        self.written = 0

    def write(self, record: Record) -> None:
        if self._writer is None:
            self._writer = self._stack.enter_context(JsonlWriter(self.path))
        self._writer.write(record)
        self.written += 1


def rewrite_lines(path: str | os.PathLike[str], lines: Iterable[bytes]) -> None:
    """Replace ``path`` with ``lines`` (each without its newline) atomically: a kill leaves old or new.

    The temp file has a name of its own per call, and is removed when writing fails (a full disk),
    so a failed rewrite leaves the original untouched and nothing behind. The new file keeps the old
    one's permissions (a new one gets the umask's, as any file a run creates).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
            with naming(path):
                for line in lines:
                    f.write(line + b"\n")
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def rewrite_jsonl(path: str | os.PathLike[str], records: Iterable[Record]) -> None:
    """Replace ``path`` with ``records`` atomically (see ``rewrite_lines``)."""
    rewrite_lines(path, (dumps(record).rstrip("\n").encode("ascii") for record in records))


# ---------------------------------------------------------------------------------------------------
# one run per output file


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file beside an output file: hidden, so no reader's ``*.jsonl`` glob ever sees it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _holder_path(path: Path) -> Path:
    # who holds the lock, for the refusal message (the lock file itself belongs to filelock)
    return path.with_name(f".{path.name}.holder")


# The outputs this process holds: a step of ``mtbench run`` entering a lock the run took first goes on
# (a second flock on the same file from this process would refuse the process itself).
_HELD: set[str] = set()


def hold_outputs(stack: contextlib.ExitStack, paths: Iterable[str | os.PathLike[str]], command: str) -> None:
    """Take every lock of ``paths`` into ``stack`` (refused in one line by the first one held elsewhere)."""
    for path in dict.fromkeys(os.path.abspath(p) for p in paths):
        stack.enter_context(exclusive_output(path, command))


@contextlib.contextmanager
def exclusive_output(path: str | os.PathLike[str], command: str) -> Iterator[None]:
    """Hold ``path`` for one run, from before it reads what is done until its last write.

    Two runs on one file would each plan the same work, pay for it twice and, where a run rewrites
    its file at the end, lose the other's appends. The second run is refused with one line instead,
    naming the command that holds the file (a judge, an answer run, a repair) and its pid.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    key = os.path.abspath(path)
    if key in _HELD:  # this process holds it already (``mtbench run`` takes every lock before its plan)
        yield
        return
    lock = FileLock(lock_path(path), timeout=0)
    holder = _holder_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        lock.acquire()
    except Timeout:
        try:
            who, pid = holder.read_text().split()
            held_by, where = who, f"{path} (pid {pid})"
        except (OSError, ValueError):  # not written yet (or a full disk kept it out): most likely our kind
            held_by, where = command, str(path)
        raise UserError(
            f"another mtbench {held_by} is writing {where}; wait for it to finish (or stop it), then rerun"
        ) from None
    except OSError as e:
        # Checked before any model is loaded or any call is paid for.
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with contextlib.suppress(OSError):  # only a message depends on it
            holder.write_text(f"{command} {os.getpid()}\n")
        _HELD.add(key)
        yield
    finally:
        _HELD.discard(key)
        with contextlib.suppress(OSError):
            holder.unlink()  # before the release, so it never removes the next holder's note
        lock.release()
