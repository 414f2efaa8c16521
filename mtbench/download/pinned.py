"""Fetching pinned data files into a data folder: a list of (path, sha256) from a list of sources.

A ``PinnedFile`` names a file by its path under the data folder (FastChat's ``data/``) and the sha256 it
must have. A ``Source`` is anything that can write one such file's bytes (``mtbench.download.sources``).
``fetch_files`` takes each file from the first source that has it, verifies it, and only when every file
verified moves them all into place, so a failure never leaves a partial data folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.options import ConfigError
from mtbench.core.progress import bars_on

log = logging.getLogger("mtbench")


@dataclass(frozen=True)
class PinnedFile:
    """A file of a data set: its path under the data folder (posix, FastChat's layout) and what it must be."""

    path: str
    sha256: str | None  # None: no published checksum; ``check`` vouches for the bytes instead
    size: int | None = None  # bytes, when known: a source sending more is cut off early
    check: Callable[[Path], None] | None = None  # for sha256 None: raises ValueError(why the file is wrong)


@dataclass(frozen=True)
class FileOutcome:
    file: PinnedFile
    target: Path
    source: str | None  # the source it was fetched from; None when it was already present and verified

    @property
    def fetched(self) -> bool:
        return self.source is not None


class SourceMiss(Exception):
    """This source cannot supply this file (not there, unreachable, ...): the next source is tried."""


class Source(Protocol):
    name: str  # short, for --source and summaries: "local", "github", "pypi"
    user_input: bool  # True when the source is a path the user gave (its failures are user errors)

    def describe(self) -> str:
        """The source in one phrase, for error messages: which folder, URL or package."""
        ...

    def fetch(self, file: PinnedFile, dest: Path) -> None:
        """Write the file's bytes to ``dest`` (at most ``file.size + 1`` of them), or raise SourceMiss."""
        ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _existing_sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise UserError(f"{path} exists but is not a file")
    try:
        return sha256_of(path)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def _check(file: PinnedFile, path: Path) -> str | None:
    """Why ``path`` is not ``file`` by the file's own check (for files without a published sha256), or None."""
    if file.check is None:
        raise ValueError(f"{file.path}: a file without a sha256 needs a check")
    try:
        file.check(path)
    except ValueError as e:
        return str(e)
    return None


def fetch_files(
    files: Sequence[PinnedFile],
    sources: Sequence[Source],
    data_dir: Path,
    *,
    force: bool = False,
    progress: bool = True,
) -> list[FileOutcome]:
    """Make every file present under ``data_dir`` with its pinned sha256; returns what was done per file.

    Present, verified files are left alone. A present file with another hash is an error unless ``force``.
    Each missing file comes from the first source that has it; its bytes must match the pin (a mismatch is
    an error naming both hashes, never a silent fallback). New files land in temp files beside their
    targets and are renamed into place only once all of them verified: on any failure the data folder is
    left as it was.
    """
    data_dir = Path(data_dir)
    outcomes: dict[str, FileOutcome] = {}
    todo: list[tuple[PinnedFile, Path]] = []
    for file in files:
        target = data_dir / file.path
        if file.sha256 is None and target.is_file():  # no published checksum: the file's own check decides
            problem = _check(file, target)
            if problem is not None and not force:
                raise ConfigError(f"{target}: present but not valid ({problem}); "
                                  "move it away or rerun with {force} to fetch it again")
            if problem is None:
                outcomes[file.path] = FileOutcome(file, target, None)
            else:
                todo.append((file, target))
            continue
        actual = _existing_sha256(target)
        if actual is not None and actual == file.sha256:
            outcomes[file.path] = FileOutcome(file, target, None)
        elif actual is not None and not force:
            raise ConfigError(
                f"{target}: sha256 {actual} does not match the pinned {file.sha256}; "
                "move it away or rerun with {force} to fetch it again"
            )
        else:
            todo.append((file, target))
    if not todo:
        return [outcomes[f.path] for f in files]
    if not sources:
        raise UserError("no source to download from")

    from tqdm import tqdm

    created_dirs: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    try:
        for file, target in tqdm(todo, desc="download", unit="file", disable=None if bars_on(progress) else True):
            _make_dirs(target.parent, created_dirs)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
            try:
                tmp.touch()
                temps.append((tmp, target))
                source = _fetch_one(file, sources, tmp)
            except OSError as e:  # our side: the data dir is not writable, or the disk is full
                raise UserError(f"cannot write {tmp}: {e.strerror or e}") from None
            outcomes[file.path] = FileOutcome(file, target, source.name)
        for tmp, target in temps:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return [outcomes[f.path] for f in files]


def _make_dirs(folder: Path, created: list[Path]) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as e:
            raise UserError(f"cannot create {path}: {e.strerror or e}") from None
        created.append(path)


def _fetch_one(file: PinnedFile, sources: Sequence[Source], tmp: Path) -> Source:
    tried: list[str] = []
    for source in sources:
        try:
            source.fetch(file, tmp)
        except SourceMiss as e:
            log.debug("%s: %s: %s", file.path, source.describe(), e)
            tried.append(f"{source.describe()} ({e})")
            continue
        if file.sha256 is None:
            problem = _check(file, tmp)
            if problem is not None:
                error = UserError if source.user_input else RunFailed
                raise error(f"{file.path} from {source.describe()} is not valid: {problem}. Nothing was written")
            return source
        size, actual = tmp.stat().st_size, sha256_of(tmp)
        if actual != file.sha256:
            expected_size = f"{file.size} bytes, " if file.size is not None else ""
            error = UserError if source.user_input else RunFailed
            raise error(
                f"{file.path} from {source.describe()} is not the pinned file: got {size} bytes, sha256 {actual}; "
                f"expected {expected_size}sha256 {file.sha256}. Nothing was written"
            )
        return source
    error = UserError if all(s.user_input for s in sources) else RunFailed
    raise error(f"could not fetch {file.path}; tried {'; '.join(tried)}")
