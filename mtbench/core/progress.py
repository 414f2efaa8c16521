"""One switch over every progress bar: the command line shows them, the Python API does not (unless asked).

Each bar is still made where it always was, from its config's ``progress`` field (``--no-progress``); it is
drawn only where ``bars_on`` says so. ``quiet()`` turns every bar off for as long as it is held, in every
thread of the process (a judge's bar may be made on a worker thread, where a context variable would not
reach), so ``mtbench.evaluate(...)`` prints nothing on stderr without touching the configs it is given.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_quiet = 0  # how many quiet() blocks are open


def bars_on(requested: bool) -> bool:
    """Whether a bar its config asked for (``requested``) is drawn."""
    return requested and _quiet == 0


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """No progress bar is drawn inside (where ``enabled``; ``quiet(False)`` leaves them to their configs)."""
    global _quiet
    if not enabled:
        yield
        return
    with _lock:
        _quiet += 1
    try:
        yield
    finally:
        with _lock:
            _quiet -= 1
