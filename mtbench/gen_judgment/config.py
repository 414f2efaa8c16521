"""A judging run's configuration: every option of `mtbench judge`, declared once (``mtbench.core.options``).

The command line, ``--help`` and the docs' flag tables are generated from these fields; the checks in
``__post_init__`` name fields (``{parallel}``), and each front end names them as its user knows them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.core.bench import (
    DEFAULT_BASELINE_MODEL,
    DEFAULT_JUDGE_MODEL,
    BenchLayout,
    Mode,
    per_category_option,
)
from mtbench.core.client import EndpointConfig
from mtbench.core.cost import Price
from mtbench.core.errors import UserError
from mtbench.core.jury_file import Juror, load_jury, local_name
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.core.request_params import extra_body
from mtbench.gen_judgment.backend import ApiJudge, JudgeBackend, LocalJudgeBackend
from mtbench.gen_judgment.batch_requests import MAX_BYTES_PER_BATCH, MAX_REQUESTS_PER_BATCH
from mtbench.gen_judgment.local import LocalJudge

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 2048
DEFAULT_PARALLEL = 8
# The judge's endpoint flags: its own names, so `mtbench run` can hold the answers' endpoint beside it.
JUDGE_ENDPOINT_FLAGS = {"base_url": "--judge-base-url", "api_key_env": "--judge-api-key-env", "api": "--judge-api",
                        "azure_endpoint": "--judge-azure-endpoint", "api_version": "--judge-api-version",
                        "azure_deployment": "--judge-azure-deployment"}
LOCAL_JUDGE_HELP = ("judge in this process with a local model (no endpoint, no key, no cost); --parallel is the "
                    "prompts per batch, --max-tokens the new tokens per reply, temperature 0 decodes greedily")


def judge_model_option() -> Any:
    """--judge-model of a command that runs one judge (validate-judge)."""
    return option("", help="judge model name sent to the endpoint; names the output file and the records' judge",
                  default_help="gpt-4; a local judge: its model folder's name, or its GGUF file's")


def judge_models_option() -> Any:
    return option((), flag="--judge-model", metavar="JUDGE",
                  help="judge model name sent to the endpoint; names the output file and the records' judge; "
                  "several names: a jury of judges on one endpoint, each writing its own file",
                  default_help="gpt-4; a local judge: its model folder's name, or its GGUF file's")


def jury_file_option() -> Any:
    return option(None, flag="--jury", metavar="FILE",
                  help="a jury file (TOML): several judges, each with its own endpoint, key, request fields and "
                  "prices, or a local model (see the guide on juries)")


def parallel_option() -> Any:
    return option(DEFAULT_PARALLEL, help="concurrent judge requests")


def dry_run_option() -> Any:
    return option(False, help="print the plan and estimated cost; call nothing")


def max_cost_option() -> Any:
    return option(None, metavar="USD", help="refuse to start (exit 2) if the estimated cost is above this "
                  "(a --dry-run says so and exits 2 too)")


def price_option(which: str) -> Any:
    return option(None, metavar="USD", help=f"judge price per 1M {which} tokens (overrides the built-in table)")


def progress_option() -> Any:
    return option(True, flag="--no-progress", help="no progress bar")


DEFAULT_MAX_FAILURE_RATE = 0.5


def max_failure_rate_option() -> Any:
    return option(DEFAULT_MAX_FAILURE_RATE, metavar="F", help="exit 1 when more than this share (0-1) of the "
                  "run's judge replies carry no verdict: the judge cannot judge (1 never stops)")


def check_money(**values: float | None) -> None:
    """Prices and budgets are 0 or more (a named field each)."""
    for name, value in values.items():
        check(value is None or (math.isfinite(value) and value >= 0), f"{{{name}}} must be 0 or more, got {value}")


@dataclass(frozen=True)
class JudgeConfig:
    """Everything one judging run needs; checks itself once, here (a bad value is a one-line ConfigError)."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    mode: Mode = option(Mode.SINGLE, help="single: a 1-10 score per answer; pairwise-baseline: each model against "
                        "--baseline-model; pairwise-all: every pair of models")
    judge_file: Path | None = option(None, help="judge prompts", default_help="DATA_DIR/judge_prompts.jsonl")
    judge_models: tuple[str, ...] = judge_models_option()  # one: judge_model; several: a jury
    jury_file: Path | None = jury_file_option()
    baseline_model: str = option(DEFAULT_BASELINE_MODEL, help="baseline for --mode pairwise-baseline")
    model_list: tuple[str, ...] | None = option(None, metavar="MODEL", help="models to judge, by answer-file stem",
                                                default_help="every answer file")
    first_n: int | None = option(None, metavar="N", help="judge only the first N questions")
    per_category: int | None = per_category_option()
    reference: str = option("", metavar="NAME", help="reference answers for the bench's reference-guided categories "
                            "(MT-bench: math/reasoning/coding): BENCH/reference_answer/NAME.jsonl (MT-bench's corrected "
                            "set is gpt-4-0125-preview; Japanese MT-bench's human-corrected one "
                            "base-gpt4o-with-human-annotation)", default_help="the bench manifest's, gpt-4")
    endpoint: EndpointConfig = nested(flags=JUDGE_ENDPOINT_FLAGS, default_factory=EndpointConfig)
    parallel: int = parallel_option()
    temperature: float = option(DEFAULT_TEMPERATURE, help="judge temperature (left out where the judge refuses it)")
    max_tokens: int = option(
        DEFAULT_MAX_TOKENS, help="judge max_tokens; a reasoning judge (o-series, gpt-5, R1, Qwen3) spends it on its "
        "thinking too, so give it a larger one (e.g. 16384) or its replies are cut before the verdict; sent as "
        "max_completion_tokens where the judge refuses max_tokens")
    # Request fields sent with every judge call: reasoning_effort, thinking budgets.
    extra_body: Mapping[str, Any] = option(
        default_factory=dict, compare=False, flag="--judge-extra-body", metavar="JSON", parse=extra_body,
        help="a JSON object of request fields added to every judge call, e.g. '{\"reasoning_effort\": \"high\"}' "
        "or a thinking budget your endpoint takes")
    judge_samples: int = option(
        1, metavar="N", help="judge every match N times (records carry sample 0..N-1; `mtbench show` takes the "
        "median and reports the judge's noise); the plan and cost multiply by N")
    retry_failed: bool = option(False, help="judge again the matches whose earlier judgment failed (API error or "
                                "no verdict)")
    dry_run: bool = dry_run_option()
    max_cost: float | None = max_cost_option()
    price_input: float | None = price_option("input")
    price_output: float | None = price_option("output")
    batch: bool | None = option(
        None, negative="--no-batch", help="judge through the provider's Batch API (OpenAI-compatible: /v1/files, "
        "/v1/batches) at its price, half of live for OpenAI; kill-safe: a rerun resumes the batches in flight; "
        "--no-batch judges live even where batches are in flight", default_help="resume batches in flight, else live")
    batch_poll_interval: float = option(30.0, metavar="SECONDS", help="seconds between polls of a batch's status")
    batch_max_requests: int = option(
        MAX_REQUESTS_PER_BATCH, flag="--batch-size", metavar="N",
        help="requests per batch at most (OpenAI's limit; files stay under 200 MB)")
    batch_price_input: float | None = option(None, metavar="USD", help="batch price per 1M input tokens (overrides "
                                             "the table's batch column)")
    batch_price_output: float | None = option(None, metavar="USD", help="batch price per 1M output tokens "
                                              "(overrides the table's batch column)")
    batch_max_bytes: int = MAX_BYTES_PER_BATCH
    local: LocalJudge | None = nested(key="path", default=None, group="local judge", group_help=LOCAL_JUDGE_HELP)
    force_verdict: bool = option(
        False, group="local judge", help="a reply with no verdict is continued with '\\n\\nRating: [[' (pairwise "
        "'\\n\\nVerdict: [[') and the judge's most probable 1..10 (A/B/C) is read; recorded with verdict_forced: "
        "true and counted by `mtbench show`; a local judge, or a served one that returns prompt log-probabilities "
        "(vLLM's OpenAI server; probed once before any call)")
    max_failure_rate: float = max_failure_rate_option()
    progress: bool = progress_option()
    output_file: Path | None = None  # None: the judge's file in the layout (check-judge writes elsewhere)
    judge_model: str = ""  # the one judge ("": gpt-4, or a local judge's own name); a jury's first
    jury: tuple[Juror, ...] = field(default=(), compare=False)  # the jury file's judges, once read
    # Pairwise games to judge, as (turn, question_id, first model by name, second); None: every one the mode
    # makes. validate-judge judges exactly the games the experts voted on.
    games: frozenset[tuple[int, int, str, str]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode))
        self._take_judge_names()
        if not self.judge_model:
            object.__setattr__(self, "judge_model", self.local.name if self.local is not None else DEFAULT_JUDGE_MODEL)
        self._check_local()
        check(self.first_n is None or self.first_n >= 1, f"{{first_n}} must be at least 1, got {self.first_n}")
        check(self.parallel >= 1, f"{{parallel}} must be at least 1, got {self.parallel}")
        check(self.max_tokens >= 1, f"{{max_tokens}} must be at least 1, got {self.max_tokens}")
        check(math.isfinite(self.temperature) and self.temperature >= 0,
              f"{{temperature}} must be 0 or more, got {self.temperature:g}")
        check(bool(self.judge_model.strip()), "{judge_models} must not be empty")
        check(self.judge_samples >= 1, f"{{judge_samples}} must be at least 1, got {self.judge_samples}")
        check(math.isfinite(self.batch_poll_interval) and self.batch_poll_interval > 0,
              f"{{batch_poll_interval}} must be a number of seconds more than 0, got {self.batch_poll_interval:g}")
        check(self.batch_max_requests >= 2, f"{{batch_max_requests}} must be at least 2, got {self.batch_max_requests}")
        check(0 <= self.max_failure_rate <= 1,
              f"{{max_failure_rate}} must be between 0 and 1, got {self.max_failure_rate:g}")
        check_money(price_input=self.price_input, price_output=self.price_output, max_cost=self.max_cost,
                    batch_price_input=self.batch_price_input, batch_price_output=self.batch_price_output)

    def _take_judge_names(self) -> None:
        """--judge-model's one name is ``judge_model``; several (or --jury) make a jury, checked judge by judge."""
        names = tuple(dict.fromkeys(self.judge_models))
        check(not (names and self.jury_file is not None),
              "{judge_models} and {jury_file} both name the judges; give one of them")
        if len(names) == 1:
            object.__setattr__(self, "judge_model", names[0])
            names = ()
        object.__setattr__(self, "judge_models", names)
        if self.jury_file is not None and not self.jury:
            object.__setattr__(self, "jury", load_jury(self.jury_file))
        if not self.is_jury:
            return
        object.__setattr__(self, "judge_model", self.judge_models[0] if self.judge_models else local_name(self.jury[0]))
        check(self.output_file is None, "a jury writes one file per judge: {output_file} is for one judge")
        check(self.batch is not True, "{batch}: a jury judges live (the Batch API takes one judge per run)")
        check(self.local is None, "{local.path}: a local judge of a jury goes in the jury file ({jury_file}: "
              "path = ...); --judge-model names judges on one endpoint")
        self.jurors()  # every judge's values checked now, each named

    @property
    def is_jury(self) -> bool:
        return len(self.judge_models) > 1 or bool(self.jury)

    def jurors(self) -> tuple[JudgeConfig, ...]:
        """One judging run's config per judge of the jury (what a judge's file entry leaves out, the flags
        give); a bad value is one line naming the jury file and the judge."""
        if not self.is_jury:
            return (self,)
        base = dataclasses.replace(self, judge_models=(), jury_file=None, jury=(), judge_model="")
        if self.judge_models:
            return tuple(dataclasses.replace(base, judge_model=name) for name in self.judge_models)
        out = []
        for i, juror in enumerate(self.jury, 1):
            try:
                out.append(_juror_config(base, juror))
            except ConfigError as e:
                raise UserError(f"{self.jury_file}: judge {i} ({local_name(juror)}): "
                                + e.render(lambda path: _JUROR_KEYS.get(path, path))) from None
        return tuple(out)

    def _check_local(self) -> None:
        """Options that mean nothing for a local judge (or only for one) are refused, not ignored."""
        if self.local is None:
            check(not (self.force_verdict and self.batch), "{force_verdict} ranks options live, one request each; "
                  "drop {batch} (or {force_verdict})")
            return
        check(self.batch is not True, "{batch}: the Batch API is for an API judge; drop it or {local.path}")
        check(self.endpoint.base_url is None,
              "{endpoint.base_url}: a local judge is not called over HTTP; drop it or {local.path}")
        check(not self.extra_body, "{extra_body}: a local judge takes no request fields; drop it or {local.path}")

    @property
    def output(self) -> Path:
        return self.output_file or self.layout.judgment_file(self.judge_model, self.mode)

    def backend(self) -> JudgeBackend:
        """Who judges (nothing is called or loaded until it is entered): the one place that tells a local
        judge from an API one."""
        if self.local is not None:
            return LocalJudgeBackend(self.local, self.judge_model, self.parallel, force_verdict=self.force_verdict)
        return ApiJudge(self.endpoint, self.judge_model, self.parallel, force_verdict=self.force_verdict)

    def price(self) -> Price | None:
        """The judge's price for this run: the Batch API's with --batch, the flags over the table's."""
        batch = bool(self.batch)
        given = (self.batch_price_input, self.batch_price_output) if batch else (self.price_input, self.price_output)
        return self.backend().price(*given, batch=batch)


# A judge's field as its jury file names it (in the one-line errors about a judge of the file).
_JUROR_KEYS = {"endpoint.base_url": "base_url", "endpoint.api_key_env": "api_key_env", "local.path": "path",
               "local.engine": "engine", "local.gguf_file": "gguf_file", "judge_model": "name"}


def _juror_config(base: JudgeConfig, juror: Juror) -> JudgeConfig:
    """One judge of a jury file as a judging run: its own values over the run's."""
    changes: dict[str, Any] = {"judge_model": local_name(juror)}
    if juror.local:
        # A local judge is not called over HTTP: the run's endpoint and request fields are the API judges'.
        changes["local"] = LocalJudge(path=juror.path or "", engine=juror.engine or "hf", gguf_file=juror.gguf_file)
        changes["endpoint"] = dataclasses.replace(base.endpoint, base_url=None)
        changes["extra_body"] = {}
    else:
        changes["endpoint"] = dataclasses.replace(
            base.endpoint, base_url=juror.base_url or base.endpoint.base_url,
            api_key_env=juror.api_key_env or base.endpoint.api_key_env)
        if juror.extra_body is not None:
            changes["extra_body"] = dict(juror.extra_body)
    for key in ("price_input", "price_output", "parallel"):
        if (value := getattr(juror, key)) is not None:
            changes[key] = value
    return dataclasses.replace(base, **changes)
