"""The warning above a table whose judge failed on too many of its matches."""

from __future__ import annotations

WARN_FAILURE_SHARE = 0.10  # above this share of failed matches, every table of the file carries a warning


def failure_warning(failed: int, total: int, judges: str) -> str | None:
    """The line shown above a table whose judge gave no verdict on more than a tenth of its matches: its
    numbers rest on the rest (issue 24: 158 of 160 failed and the table showed a score 'over 1 question')."""
    if not total or failed / total <= WARN_FAILURE_SHARE:
        return None
    return (f"warning: the judge ({judges}) gave no verdict on {failed} of {total} matches ({failed / total:.0%}); "
            f"these numbers rest on the other {total - failed}: try a stronger judge, or --force-verdict with a "
            "judge that exposes log-probabilities")
