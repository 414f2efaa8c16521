"""validate-judge's answer as text: one table, the judge's habits, and one sentence."""

from __future__ import annotations

from mtbench.validate_judge.command import Validation
from mtbench.validate_judge.experts import PAPER_GPT4_WITH_TIES, PAPER_TURN1
from mtbench.validate_judge.stats import Agreement

HEADER = ("comparison", "turn", "n", "with ties", "95% CI", "n w/o ties", "without ties", "95% CI", "kappa")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:.0%}, {ci[1]:.0%}]"


def _row(r: Agreement) -> list[str]:
    return [r.label, r.turn, str(r.total), _pct(r.with_ties), _ci(r.with_ties_ci), str(r.without_total),
            _pct(r.without_ties), _ci(r.without_ties_ci), "-" if r.kappa is None else f"{r.kappa:.2f}"]


def sentence(v: Validation) -> str:
    """'judge X agrees with the experts as often as GPT-4 does' or 'N points less', with its CI."""
    d = v.versus_gpt4
    if d is None:
        mine = next(r for r in v.rows if r.turn == "1")
        if mine.with_ties is None:
            return f"{v.judge_model} judged no turn-1 game the experts voted on: nothing to set beside the paper"
        lo, hi = mine.with_ties_ci or (mine.with_ties, mine.with_ties)
        points = (mine.with_ties - PAPER_GPT4_WITH_TIES) * 100
        where = (f"{_pct(mine.with_ties)} on turn 1, 95% CI {_ci(mine.with_ties_ci)}, against the paper's "
                 f"{_pct(PAPER_GPT4_WITH_TIES)} for GPT-4")
        if lo <= PAPER_GPT4_WITH_TIES <= hi:
            return f"{v.judge_model} agrees with the experts as often as GPT-4 did in the paper ({where})"
        return (f"{v.judge_model} agrees with the experts {abs(points):.0f} points {'less' if points < 0 else 'more'} "
                f"often than GPT-4 did in the paper ({where})")
    where = (f"{_pct(d.mine)} vs GPT-4's {_pct(d.theirs)} with ties on the same games; difference "
             f"{d.points:+.0f} points, 95% CI " + ("-" if d.ci is None else f"[{d.ci[0]:+.0f}, {d.ci[1]:+.0f}]"))
    if d.ci is not None and d.ci[0] <= 0 <= d.ci[1]:
        return f"{v.judge_model} agrees with the experts as often as GPT-4 does ({where})"
    return (f"{v.judge_model} agrees with the experts {abs(d.points):.0f} points "
            f"{'less' if d.points < 0 else 'more'} often than GPT-4 does ({where})")


def render(v: Validation) -> str:
    rows = [_row(r) for r in v.rows]
    rows += [[who, "1", "-", _pct(with_ties), "-", "-", _pct(without), "-", "-"] for who, with_ties, without in PAPER_TURN1]
    widths = [max(len(c) for c in col) for col in zip(HEADER, *rows, strict=True)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    h = v.habits
    out = [f"validate-judge: {v.judge_model} on {v.games} games the experts voted on", "",
           line(HEADER), line(["-" * w for w in widths]), *map(line, rows), "",
           f"{v.judge_model}'s position consistency {_pct(h.consistent)} of {h.matches} games (both orders give the "
           f"same verdict); tie rate {_pct(h.tie_rate)} of its verdicts; the answer shown first wins "
           f"{_pct(h.first_position)} of its decisive verdicts (50% is no position bias)",
           "paper rows: the MT-bench paper (Zheng et al. 2023), Table 5, turn 1; CIs: 95% percentile bootstrap over "
           "questions",
           *(f"note: {n}" for n in v.notes), "",
           sentence(v) + "."]
    return "\n".join(out) + "\n"
