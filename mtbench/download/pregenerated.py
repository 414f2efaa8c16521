"""FastChat's pre-generated MT-bench data: the answers of the 31 leaderboard models and GPT-4's judgments.

The same files FastChat's ``download_mt_bench_pregenerated.py`` fetches from the Hugging Face space
``lmsys/mt-bench``, in FastChat's layout, so a new model can be shown, browsed and reported next to the
leaderboard models without paying for their answers or judgments. Built on ``mtbench.download``: the
answer files are pinned to the sha256 of the official copies (shared/mt_bench_reference/SOURCE.md); the two
judgment files have no published checksum, so they are accepted only if every line parses as a judgment
record of the right kind. Each file is fetched and verified on its own and renamed into place at once, so
an interrupted run keeps what it finished and a rerun fetches only what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_BENCH, DEFAULT_DATA_DIR, DEFAULT_JUDGE_MODEL, BenchLayout, Mode
from mtbench.core.errors import RunFailed
from mtbench.core.progress import bars_on
from mtbench.core.record_files import load_pair_judgments, load_single_judgments
from mtbench.core.records import LineError
from mtbench.download import DEFAULT_TIMEOUT_S, FileOutcome, HttpSource, PinnedFile, fetch_files
from mtbench.download.mt_bench import PREGENERATED_BASE_URL, PREGENERATED_BASE_URL_ENV  # noqa: F401 (re-exported)

SPACE_DATA_PREFIX = "data/"  # the space keeps FastChat's data/ folder at its root
JUDGE_MODEL = DEFAULT_JUDGE_MODEL  # the published judgments are GPT-4's

# Answer file stem -> (sha256, bytes) of the official files, from shared/mt_bench_reference/SOURCE.md.
ANSWER_PINS: dict[str, tuple[str, int]] = {
    "alpaca-13b": ("80f4a8bf4665839d33fa0ea7f4b58824abf88d5a0edc9e7cc68a362fca88ef98", 66179),
    "baize-v2-13b": ("062eb0b865a8b903e0d434a59ed8a7b58c74fcf57de154858f9ca00788758e4e", 176040),
    "chatglm-6b": ("2785d99500d910bf0154f64947743e12c9cf20fdba6c160c314c099e0d03dfb9", 188210),
    "claude-instant-v1": ("e06bbf0f8c02cc56cf0508312627b8e552df1e4e5c061a9dc236f73c0d053bac", 165065),
    "claude-v1": ("884c109de34721859bf7ffa0f7e525dfbc9fb0d99c1ee7c5488bfb2eb8f8c62c", 174683),
    "dolly-v2-12b": ("5b1fd3f5c56bdeab746576067412c503ee5030e89456870219fed04fd1040056", 90490),
    "falcon-40b-instruct": ("efcabc647b32a600d845b6bc85573facf70ef566b6c4d1ad2cecfb46c897a2ea", 103875),
    "fastchat-t5-3b": ("4e65d40093631aa0c55703f0df528ac6d4225097e42d8694f49b11d2b89e889b", 179585),
    "gpt-3.5-turbo": ("c3c097c21f91e4b44a554d82e5d47516daf7e8240e13b2eca79d211afc1fdfd6", 158274),
    "gpt-4": ("f65cdce00aa8567e9add118cabd34c2866291ed8f5c1d568f8da9a81d231d3e7", 199046),
    "gpt4all-13b-snoozy": ("d6a341c37224e166bd65c44df6c189f42e756221ad3975164934f336d1bd1bec", 142831),
    "guanaco-33b": ("5f8856d1e57c56a474e2dcd487684ff99f02cff8905ef8a2e1b6601f9d5819e9", 191904),
    "guanaco-65b": ("5b3123555399be437eba9fe49c2f6f09c9ac6a497f3dee96299f4565036ed2b4", 182083),
    "h2ogpt-oasst-open-llama-13b": ("0cf8c355a944f791b708f834d139c87e7f4cd97a0e7e12d03e5d64b235e96204", 162814),
    "koala-13b": ("f1dacd010bec3e87ec6f1160c285bfe42f1acbaa9947a4debe5360778ff1b5aa", 191839),
    "llama-13b": ("b96b9f1e0a7e4e669fecfecda1c33908fdc4c095e38346e84352ea254c0b2cbc", 130031),
    "mpt-30b-chat": ("2adb32470a79ca17060d14c6fb88ea1b9b4bc10d4589778715fe88c96cfe2aa8", 161080),
    "mpt-30b-instruct": ("df81b38aa8b7f7d6c5f214e72ee568284f5c6bb7da74a8cb45662b7a067f5415", 93609),
    "mpt-7b-chat": ("7171e42d926a99ea1d7fd804fb19ee367d00c6be81f38bb450bd90cd0df4a772", 133659),
    "nous-hermes-13b": ("d953f206fd86f600af32668c6b6c6785006497df8aa745d96aef2fdca5b31310", 117962),
    "oasst-sft-4-pythia-12b": ("5b22cc8495a15bbe69361bbf30782f3b2f69361321989667a8abb9fb3e73ce9e", 120593),
    "oasst-sft-7-llama-30b": ("6ec66e7839da733be995feb6a5d42df315d2eda3a85bc27cad6bba429841e1d0", 138342),
    "palm-2-chat-bison-001": ("4cad39fcf55f853fc101d00950af2f8ba311def8729b076ac633f2ae70d39adf", 120417),
    "rwkv-4-raven-14b": ("7f5305dec94c457feaf326d28491c1aedfdd66965044c1b3f654699cebcb5071", 186336),
    "stablelm-tuned-alpha-7b": ("d8f0cbb4e3292e65e6425a717644fad155d11b8feb73ee9620cd0fecfc808016", 395624),
    "tulu-30b": ("3b7c238738787979606feaa3b4e154140e0dd152e01f257ef2f8749aa5bef2df", 131454),
    "vicuna-13b-v1.3": ("0a9bb7f7505d096e32b8a81f89b322cc09bb76d896484150844ce0787cc4caf5", 187075),
    "vicuna-33b-v1.3": ("4dbf2db582d8e9ddcc8b321c55cc40fd26487fe2a4a821e60dce10160b383f2c", 232457),
    "vicuna-7b-v1.3": ("1b4518114b6c20e1d648f450cf7de0ced2678456a36bea5878b1e0d8471f184d", 185331),
    "wizardlm-13b": ("a15b5b2521fadf1a30f71e7d906aabb123f33de499129bc26eda0e8fa1aadc80", 155429),
    "wizardlm-30b": ("e962ab5531c625ccf704c72396b67c4534fdf3775aeb89ea86e08c158bf18c49", 161413),
}


def judgment_check(kind: str) -> Callable[[Path], None]:
    """A check for a judgment file with no published sha256: complete, non-empty, every line a record.

    ``kind`` is "single" or "pair" (``Mode.kind``). A cut-off file (no final newline) is refused here, though the
    record reader would forgive a torn last line in a file we wrote ourselves.
    """
    load = load_single_judgments if kind == "single" else load_pair_judgments

    def check(path: Path) -> None:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                raise ValueError("the file is empty")
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                raise ValueError("the last line is cut off")
        try:
            records = load(path)
        except LineError as e:
            # name the line, not our temp file (nor a repair of it)
            raise ValueError(f"not a {kind} judgment file: line {e.line}: {e.reason}") from None
        if not records:
            raise ValueError(f"no {kind} judgment records")

    return check


def pregenerated_files(layout: BenchLayout) -> tuple[PinnedFile, ...]:
    """The 31 answer files (pinned) and GPT-4's single and pair judgment files (checked by parsing)."""

    def rel(path: Path) -> str:
        return path.relative_to(layout.data_dir).as_posix()

    answers = tuple(PinnedFile(rel(layout.answer_file(name)), sha, size) for name, (sha, size) in ANSWER_PINS.items())
    judgments = tuple(
        PinnedFile(rel(layout.judgment_file(JUDGE_MODEL, mode)), None, check=judgment_check(mode.kind))
        for mode in (Mode.SINGLE, Mode.PAIRWISE_ALL)
    )
    return answers + judgments


@dataclass(frozen=True)
class PregeneratedConfig:
    data_dir: Path = DEFAULT_DATA_DIR
    base_url: str = PREGENERATED_BASE_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    force: bool = False
    progress: bool = True


def download_pregenerated(config: PregeneratedConfig) -> list[FileOutcome]:
    """Put the pre-generated answers and GPT-4 judgments under ``config.data_dir``; returns what was done per file.

    Files already present and verified are skipped. A file that fails (missing on the server, cut off,
    wrong sha256, not parseable) does not stop the others; the run then fails naming each one, and a rerun
    fetches only those.
    """
    from tqdm import tqdm

    layout = BenchLayout(data_dir=Path(config.data_dir), bench_name=DEFAULT_BENCH)
    source = HttpSource("huggingface", config.base_url, SPACE_DATA_PREFIX, timeout=config.timeout_s)
    files = pregenerated_files(layout)
    outcomes: list[FileOutcome] = []
    failures: dict[str, list[str]] = {}  # reason, with the file's path as FILE -> the files it hit
    # One fetch_files call per file: each verified file is renamed into place at once, so an interrupted
    # run keeps it (fetch_files alone would keep all or nothing).
    for file in tqdm(files, desc="pregenerated", unit="file", disable=None if bars_on(config.progress) else True):
        try:
            outcomes.extend(fetch_files([file], [source], layout.data_dir, force=config.force, progress=False))
        except RunFailed as e:
            failures.setdefault(str(e).replace(file.path, "FILE"), []).append(file.path)
    if failures:
        count = sum(len(paths) for paths in failures.values())
        reasons = "; ".join(
            reason.replace("FILE", paths[0]) if len(paths) == 1
            else f"{reason} [FILE = {paths[0]} and {len(paths) - 1} more]"
            for reason, paths in failures.items()
        )
        raise RunFailed(
            f"{count} of {len(files)} pre-generated files failed ({len(outcomes)} are in place; "
            f"rerun to fetch the rest): {reasons}"
        )
    return outcomes
