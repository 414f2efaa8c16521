"""Judgments -> score tables, win rates, bootstrap CIs and the radar chart: what `mtbench show` reports.

Everything here is a pure function of the records it is handed, except ``show``, which reads exactly the
two files named in its config (the judgment file and, when present, the question file). Nothing prints or
writes: the CLI does that. Later views (``browse``, ``report``) build on ``single_tables``,
``pairwise_table``, ``paired_comparison``, ``radar_figure`` and the frozen results they return.

FastChat's arithmetic (``show_result.py``) is kept: failed judgments are left out of the means, the overall
score is the mean of every valid row with both turns pooled, a pairwise match is a tie when game 1 is a tie
or the two games disagree, and ``win_rate_adjusted`` counts a tie as half a win. Deliberate differences:
a match judged twice (a rerun appended it again) counts once, the last record winning; failures are counted
and shown, not only dropped; pairwise-all's ``--model-list`` keeps a match when both models are listed
(FastChat checked only ``model_1``).

Modules: ``stats`` (bootstrap CIs), ``selection`` (dedupe, --model-list, categories), ``scores`` (single
mode), ``pairwise`` (win rates, position consistency), ``compare`` (paired comparison), ``radar`` (the
figure), ``command`` (``ShowConfig``, ``show``), ``render`` (table, Markdown, CSV, JSON); for ``mtbench bias``
and ``show --control``: ``style`` (answer length and markdown), ``bias`` and ``bias_single`` (the statistics),
``jury_stats`` and ``jury`` (a jury's score, CI and agreement), ``bias_command`` and ``bias_render`` (``BiasConfig``, ``bias``, ``render_bias``), ``control`` (the
scikit-learn fits) and ``controlled`` (judgments into those fits). Every public name is importable from here.
"""

from mtbench.show_result.bias_command import BiasConfig, BiasReport, bias
from mtbench.show_result.bias_render import render_bias
from mtbench.show_result.command import ShowConfig, ShowReport, show
from mtbench.show_result.compare import PairedComparison, paired_comparison
from mtbench.show_result.control import CONTROLS
from mtbench.show_result.pairwise import PairwiseTable, match_outcome, pairwise_table
from mtbench.show_result.radar import radar_figure
from mtbench.show_result.render import FORMATS, flat_table, render
from mtbench.show_result.scores import SingleTables, single_tables
from mtbench.show_result.selection import (
    UNKNOWN_CATEGORY,
    dedupe_pairs,
    dedupe_single,
    mt_bench_categories,
    require_models,
)
from mtbench.show_result.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    bootstrap_mean_ci,
    bootstrap_ratio_ci,
    bootstrap_weights,
)

__all__ = [
    "CONTROLS",
    "BiasConfig",
    "BiasReport",
    "bias",
    "render_bias",
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_SEED",
    "FORMATS",
    "UNKNOWN_CATEGORY",
    "PairedComparison",
    "PairwiseTable",
    "ShowConfig",
    "ShowReport",
    "SingleTables",
    "bootstrap_mean_ci",
    "bootstrap_ratio_ci",
    "bootstrap_weights",
    "dedupe_pairs",
    "dedupe_single",
    "flat_table",
    "match_outcome",
    "mt_bench_categories",
    "paired_comparison",
    "pairwise_table",
    "radar_figure",
    "render",
    "require_models",
    "show",
    "single_tables",
]
