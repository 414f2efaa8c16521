"""The two kinds of failure a user sees: their input is wrong, or the run could not finish."""

import errno


class MTBenchError(Exception):
    """Every failure mtbench reports as one line: ``except mtbench.MTBenchError`` catches them all."""

    exit_code = 1


class UserError(MTBenchError):
    """Bad flags, a missing or malformed file: printed as one line, exit code 2."""

    exit_code = 2


class RunFailed(MTBenchError):
    """The run could not finish (bad key, endpoint down, every request failing): one line, exit code 1."""

    exit_code = 1


# A write that failed because the disk (or the user's quota) is full: the machine's trouble, exit 1 like
# any OSError the CLI reports, never the user's flag (exit 2).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
