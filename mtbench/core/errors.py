"""The two kinds of failure a user sees: their input is wrong, or the run could not finish."""


class UserError(Exception):
    """Bad flags, a missing or malformed file: printed as one line, exit code 2."""

    exit_code = 2


class RunFailed(Exception):
    """The run could not finish (bad key, endpoint down, every request failing): one line, exit code 1."""

    exit_code = 1
