"""``ExportConfig``: which judgments to export, where, and whether to push (declared options)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.bench import DEFAULT_BASELINE_MODEL, DEFAULT_JUDGE_MODEL, MODES, BenchLayout, Mode
from mtbench.core.options import check, nested, option
from mtbench.show_result.command import bootstrap_option
from mtbench.show_result.stats import DEFAULT_SEED

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ExportConfig:
    layout: BenchLayout = nested(default_factory=BenchLayout)
    judgment_file: Path | None = option(
        None, flag="--input-file", metavar="INPUT_FILE", help="judgment file to export",
        default_help="BENCH/model_judgment/JUDGE_single.jsonl; JUDGE_pair.jsonl in the pairwise modes")
    judge_model: str = option(DEFAULT_JUDGE_MODEL, help="judge whose file to read, named as for `mtbench judge`")
    mode: str = option(Mode.SINGLE.value, choices=MODES, help="which judgments to export")
    baseline_model: str | None = option(DEFAULT_BASELINE_MODEL, help="the baseline in --mode pairwise-baseline")
    model_list: tuple[str, ...] | None = option(None, metavar="MODEL", help="only these models",
                                                default_help="all judged")
    n_bootstrap: int = bootstrap_option()
    seed: int = option(DEFAULT_SEED, help="bootstrap seed: same seed, same intervals")
    out: Path | None = option(None, metavar="DIR", help="where results.json and details.parquet are written",
                              default_help="BENCH/export/JUDGE_MODE")
    details: bool = option(True, flag="--no-details", help="write results.json only (no datasets needed)")
    push_to_hub: str | None = option(
        None, metavar="REPO", help="upload the export to this Hugging Face dataset repo (OWNER/NAME), with "
        "huggingface_hub; the token is HF_TOKEN or the cached `hf auth login`")
    public: bool = option(False, help="create the Hub repo public (default: private)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode).value)
        check(self.n_bootstrap >= 0, f"{{n_bootstrap}} must be 0 or more, got {self.n_bootstrap}")
        check(self.push_to_hub is None or bool(_REPO.match(self.push_to_hub)),
              f"{{push_to_hub}} takes OWNER/NAME, e.g. my-org/mt-bench-results; got {self.push_to_hub!r}")
        check(not self.public or self.push_to_hub is not None, "{public} goes with {push_to_hub}")

    @property
    def out_dir(self) -> Path:
        from mtbench.core.bench import judge_file_stem

        return self.out or self.layout.bench_dir / "export" / f"{judge_file_stem(self.judge_model)}_{self.mode}"


@dataclass(frozen=True)
class ExportResult:
    results: Path
    details: Path | None
    rows: int  # judgments in details
    url: str | None = None  # the Hub repo, when pushed
