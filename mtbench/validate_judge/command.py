"""`mtbench validate-judge`: does this judge agree with the experts as often as GPT-4 does?

The games are the ones the experts voted on (``lmsys/mt_bench_human_judgments``, ``experts``): a question,
a turn and two of the paper's models, whose published answers (``mtbench download --pregenerated``) are
judged pairwise, both orders, by the user's judge through ``mtbench judge`` itself (its plan and price,
``--max-cost``, resume, ``--judge-samples``, ``--batch``, a local judge, ``--force-verdict``). Its
judgments go to a file of their own, ``model_judgment/validate_judge/JUDGE_pair.jsonl``, so they never mix
with a real run's. Then: its agreement with the experts and with GPT-4's votes on the same games (per
turn, with and without ties, CIs by questions), Cohen's kappa, its position consistency and tie rate, and
the paper's numbers beside them (``render``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.agreement import GPT4_PAIR, VoteKey, bucket, votes_from_pair_judgments
from mtbench.core.bench import BenchLayout, Mode, judge_file_stem
from mtbench.core.client import EndpointConfig
from mtbench.core.errors import UserError
from mtbench.core.options import check, nested, option
from mtbench.core.record_files import load_pair_judgments, load_questions
from mtbench.gen_judgment.config import (
    DEFAULT_MAX_TOKENS,
    JUDGE_ENDPOINT_FLAGS,
    LOCAL_JUDGE_HELP,
    JudgeConfig,
    check_money,
    dry_run_option,
    judge_model_option,
    max_cost_option,
    max_failure_rate_option,
    parallel_option,
    price_option,
    progress_option,
)
from mtbench.gen_judgment.local import LocalJudge
from mtbench.gen_judgment.results import JudgeSummary
from mtbench.validate_judge.experts import ExpertVotes, load_expert_votes
from mtbench.validate_judge.stats import (
    Agreement,
    Difference,
    JudgeHabits,
    agreement,
    difference,
    judge_habits,
)

log = logging.getLogger("mtbench")

# The six models the experts judged, by their published answer files (the votes name vicuna-13b-v1.2,
# whose answers were never published: MT-bench's pre-generated set holds vicuna-13b-v1.3, another model).
PAPER_MODELS = ("gpt-4", "gpt-3.5-turbo", "claude-v1", "vicuna-13b-v1.3", "alpaca-13b", "llama-13b")
_HINT = "run `mtbench download --pregenerated` (or copy the published answer files there)"

Comparisons = list[tuple[int, int, str, str]]  # (turn, question_id, one side's vote, the other's)


@dataclass(frozen=True)
class ValidateConfig:
    """One validation of a judge against the experts; checks itself once (one-line ConfigError)."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    human_files: tuple[Path, ...] = option(
        (), flag="--human", metavar="FILE", help="the expert votes: lmsys/mt_bench_human_judgments in its JSON "
        "layout (both splits, JSON array or JSONL), or the joined CSV (or its .zip) of shared/mt_bench_reference/"
        "human_judgments_partial/", default_help="the pinned dataset (not pinned in this build: give a FILE)")
    sample: int | None = option(None, metavar="N", help="judge N of the voted games, stratified by turn and "
                                "category (seeded by --seed)", default_help="every voted game")
    seed: int = option(0, help="seed of --sample and of the bootstrap")
    n_bootstrap: int = option(1000, flag="--bootstrap", metavar="N", help="bootstrap resamples (over questions) for "
                              "the CIs; 0 for none")
    judge_model: str = judge_model_option()
    endpoint: EndpointConfig = nested(flags=JUDGE_ENDPOINT_FLAGS, default_factory=EndpointConfig)
    parallel: int = parallel_option()
    max_tokens: int = option(DEFAULT_MAX_TOKENS, help="judge max_tokens")
    judge_samples: int = option(1, metavar="N", help="judge every game N times (the first sample is compared)")
    batch: bool | None = option(None, negative="--no-batch", help="judge through the provider's Batch API",
                                default_help="resume batches in flight, else live")
    retry_failed: bool = option(False, help="judge again the games whose earlier judgment failed")
    dry_run: bool = dry_run_option()
    max_cost: float | None = max_cost_option()
    price_input: float | None = price_option("input")
    price_output: float | None = price_option("output")
    max_failure_rate: float = max_failure_rate_option()
    local: LocalJudge | None = nested(key="path", default=None, group="local judge", group_help=LOCAL_JUDGE_HELP)
    force_verdict: bool = option(False, group="local judge", help="a reply with no verdict gets the judge's most "
                                 "probable [[A]]/[[B]]/[[C]] (a local judge, or a server that returns "
                                 "log-probabilities)")
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        check(self.sample is None or self.sample >= 1, f"{{sample}} must be at least 1, got {self.sample}")
        check(self.n_bootstrap >= 0, f"{{n_bootstrap}} must be 0 or more, got {self.n_bootstrap}")
        check_money(price_input=self.price_input, price_output=self.price_output, max_cost=self.max_cost)

    def judge_config(self, models: tuple[str, ...], games: frozenset[VoteKey]) -> JudgeConfig:
        """The judging run: pairwise, exactly ``games``, into validate-judge's own file."""
        config = JudgeConfig(
            layout=self.layout, mode=Mode.PAIRWISE_ALL, judge_model=self.judge_model, model_list=models,
            endpoint=self.endpoint, parallel=self.parallel, max_tokens=self.max_tokens,
            judge_samples=self.judge_samples, batch=self.batch, retry_failed=self.retry_failed,
            max_cost=self.max_cost, price_input=self.price_input, price_output=self.price_output,
            max_failure_rate=self.max_failure_rate, local=self.local, force_verdict=self.force_verdict,
            progress=self.progress, games=games,
        )
        output = self.layout.judgment_dir / "validate_judge" / f"{judge_file_stem(config.judge_model)}_pair.jsonl"
        from dataclasses import replace

        return replace(config, output_file=output)


@dataclass(frozen=True)
class Validation:
    """What validate-judge found (``render`` prints it)."""

    judge_model: str
    games: int  # judged with a verdict and compared
    rows: tuple[Agreement, ...]
    habits: JudgeHabits
    versus_gpt4: Difference | None  # judge minus GPT-4, agreement with the experts with ties, same games
    notes: tuple[str, ...] = ()
    summary: JudgeSummary | None = field(default=None, compare=False)  # this run's judging, when it judged


def _games(votes: ExpertVotes, models: tuple[str, ...], notes: list[str]) -> dict[VoteKey, list[str]]:
    experts = bucket(votes.experts)
    kept = {k: v for k, v in experts.items() if k[2] in models and k[3] in models}
    left = sum(len(v) for k, v in experts.items() if k not in kept)
    if left:
        others = sorted({m for k in experts if k not in kept for m in k[2:] if m not in models})
        notes.append(f"{left} expert votes on {', '.join(others)} left out: no published answers of that model "
                     "(the experts saw answers MT-bench never published)")
    if votes.authors_left_out:
        notes.append(f"{votes.authors_left_out} author votes left out (as FastChat)")
    return kept


def _answers(config: ValidateConfig, models: tuple[str, ...]) -> None:
    """The published answers in the data folder; the missing ones fetched (pinned), except on a dry run."""
    missing = [m for m in models if not config.layout.answer_file(m).is_file()]
    if not missing:
        return
    if config.dry_run:
        raise UserError(f"no answers of {', '.join(missing)} in {config.layout.answer_dir}: {_HINT}")
    from mtbench.download import HttpSource, PinnedFile, fetch_files
    from mtbench.download.mt_bench import PREGENERATED_BASE_URL
    from mtbench.download.pregenerated import ANSWER_PINS, SPACE_DATA_PREFIX

    data_dir = config.layout.data_dir
    files = [PinnedFile(config.layout.answer_file(m).relative_to(data_dir).as_posix(), *ANSWER_PINS[m])
             for m in missing]
    fetch_files(files, [HttpSource("huggingface", PREGENERATED_BASE_URL, SPACE_DATA_PREFIX)], data_dir,
                progress=config.progress)


def _compare(mine: Mapping[VoteKey, list[str]], others: Mapping[VoteKey, list[str]]) -> Comparisons:
    """Each vote in ``others`` against ``mine``'s vote on the same game (its first, where it has several)."""
    return [(k[0], k[1], mine[k][0], theirs) for k in sorted(mine.keys() & others.keys()) for theirs in others[k]]


def validate_judge(config: ValidateConfig, *, announce: Callable[[str], None] = print) -> Validation | None:
    """Plan and run the judging of the voted games (or only plan it: ``dry_run``), then compare."""
    from mtbench.gen_judgment import judge
    from mtbench.validate_judge.stats import stratified_sample

    notes: list[str] = []
    votes = load_expert_votes(config.human_files)
    experts = _games(votes, PAPER_MODELS, notes)
    if not experts:
        raise UserError(f"{votes.source}: no expert vote on two of {', '.join(PAPER_MODELS)}")
    games = sorted(experts)
    if config.sample is not None:
        if not config.layout.question_file.is_file():
            raise UserError(f"{config.layout.question_file} not found: run `mtbench download`")
        categories = {q.question_id: q.category for q in load_questions(config.layout.question_file)}
        games = stratified_sample(games, categories, config.sample, config.seed)
        notes.append(f"{len(games)} of {len(experts)} voted games, stratified by turn and category (seed {config.seed})")
    models = tuple(m for m in PAPER_MODELS if any(m in g[2:] for g in games))
    _answers(config, models)
    judge_config = config.judge_config(models, frozenset(games))
    summary = judge(judge_config, dry_run=config.dry_run, announce=announce)
    if config.dry_run:
        return None
    if summary is not None:
        announce(summary.describe())
    path = judge_config.output
    wanted = set(games)
    judgments = [j for j in (load_pair_judgments(path) if path.is_file() else [])
                 if j.sample == 0 and (j.turn, j.question_id, *sorted((j.model_1, j.model_2))) in wanted]
    found = votes_from_pair_judgments(judgments, judge_config.judge_model)
    mine = bucket(found.votes)
    if found.errors:
        notes.append(f"{found.errors} game(s) the judge gave no verdict on left out")
    if not mine:
        raise UserError(f"{judge_config.judge_model} gave a verdict on none of the {len(games)} voted games")
    shown = {k: experts[k] for k in mine}
    gpt4 = {k: v for k, v in bucket(votes.gpt4).items() if k in mine}
    judge_vs_experts = _compare(mine, shown)
    rows = agreement(f"{judge_config.judge_model} vs experts", judge_vs_experts, n_bootstrap=config.n_bootstrap,
                     seed=config.seed)
    versus = None
    if gpt4:
        gpt4_vs_experts = _compare(gpt4, shown)
        rows += agreement(f"GPT-4 ({GPT4_PAIR}) vs experts", gpt4_vs_experts, n_bootstrap=config.n_bootstrap,
                          seed=config.seed)
        rows += agreement(f"{judge_config.judge_model} vs GPT-4", _compare(mine, gpt4), n_bootstrap=config.n_bootstrap,
                          seed=config.seed)
        versus = difference(_compare(mine, {k: shown[k] for k in gpt4}), gpt4_vs_experts,
                            n_bootstrap=config.n_bootstrap, seed=config.seed)
        if len(gpt4) < len(mine):
            notes.append(f"GPT-4's votes cover {len(gpt4)} of the {len(mine)} games judged; the GPT-4 rows and "
                         "the comparison with GPT-4 are over those")
    else:
        notes.append(f"{votes.source} holds no GPT-4 ({GPT4_PAIR}) votes: the judge is compared with the paper's "
                     "numbers only")
    return Validation(judge_config.judge_model, len(mine), tuple(rows), judge_habits(judgments), versus,
                      tuple(notes), summary)
