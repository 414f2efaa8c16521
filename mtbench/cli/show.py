"""`mtbench show`: score tables, win rates and confidence intervals from a judgment file (FastChat's show_result)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.show_result:ShowConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "show",
        help="show scores, win rates and confidence intervals from the judgments",
        description=(
            "Print MT-bench results from a judgment file: per-turn and overall scores per model with 95% "
            "bootstrap confidence intervals and a per-category table (single), or win/loss/tie and win rates "
            "(pairwise). Reads FastChat's judgment files and mtbench's alike. A judgment appended twice by a "
            "rerun counts once; failed judgments are left out of the means and counted. Each row says how many "
            "questions it covers; a row covering fewer than the most-covered model or the bench is marked "
            "partial (*). Categories come from "
            "BENCH/question.jsonl, or for mt_bench without it from the fixed question-id blocks (81-90 writing, "
            "..., 151-160 humanities). With several judges (--judge-model A B C, --jury FILE): the jury's mean "
            "score (pairwise: majority verdict), a CI over questions and judges, each judge's own, and agreement."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.api import scores
    from mtbench.protocols import protocol_for

    config = command_config(args)
    protocol = protocol_for(config.layout)  # a bench with a protocol of its own (MT-Bench-101) scores its way
    if protocol is not None:
        if config.jury:
            from mtbench.core.options import ConfigError

            raise ConfigError(f"a jury's table (several {{judge_models}}, or {{jury_file}}) is MT-bench's; "
                              f"{config.layout.bench_name} shows one judge")

        from mtbench.core.options import check

        # Its scores are not a ShowReport; refused rather than silently not logged.
        check(not config.tracking.log_to, f"{{tracking.log_to}} is not available for {config.layout.bench_name} yet")
        sys.stdout.write(protocol.show(config))
        return 0
    result = scores(config)
    assert result.report is not None
    print_show(result.report)
    print_logged(result)
    return 0


def print_logged(scores) -> None:
    """Where ``--log-to`` logged the tables, one line per tracker on stderr."""
    for tracker, where in (scores.logged if scores is not None else {}).items():
        print(f"mtbench show: logged to {tracker}: {where}", file=sys.stderr)


def print_show(report) -> None:
    """What ``show`` prints for ``report``: the tables on stdout (``config.format``), the radar chart to
    ``config.plot``."""
    from mtbench.core.options import ConfigError
    from mtbench.show_result import radar_figure, render

    fmt, plot = report.config.format, report.config.plot
    if plot is not None:
        by_category = report.single.by_category if report.single is not None else None
        if by_category is None:
            raise ConfigError(f"{{plot}}: categories are unavailable (no question file at {report.config.questions})")
        try:
            radar_figure(by_category, title=f"{report.config.layout.bench_name} score by category").savefig(plot, format="png", bbox_inches="tight")
        except OSError as e:
            raise ConfigError(f"{{plot}}: cannot write {plot}: {e.strerror or e}") from None
    if fmt == "csv" and report.warning:  # CSV holds one table; the warning goes above it, on stderr
        print(f"mtbench show: {report.warning}", file=sys.stderr)
    sys.stdout.write(render(report, fmt))
    if fmt in ("csv",) and report.comparison is not None:
        # CSV holds one table; the comparison goes to stderr so stdout stays machine-readable.
        c = report.comparison
        print(
            f"mtbench show: {c.model_a} - {c.model_b} = {c.difference:+.4f} "
            f"[{c.ci_low:.4f}, {c.ci_high:.4f}] over {c.n_questions} questions",
            file=sys.stderr,
        )
    if plot is not None:
        print(f"mtbench show: wrote {plot}", file=sys.stderr)
