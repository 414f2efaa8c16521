"""mtbench: MT-bench end to end, FastChat-compatible files.

The command line is ``mtbench``; the same steps as Python functions are ``mtbench.evaluate``,
``mtbench.generate_answers``, ``mtbench.judge`` and ``mtbench.scores`` (``mtbench.api``). They are loaded on
first use, so ``import mtbench`` costs nothing more than this module: no torch, pandas or openai.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import mtbench` stays this module alone

__version__ = "0.1.0"

# name -> the module that defines it, imported on first access (PEP 562).
_LAZY = {
    **dict.fromkeys(("evaluate", "generate_answers", "judge", "scores", "Answers", "Evaluation", "Files", "Judged",
                     "Scores", "Usage"), "mtbench.api"),
    **dict.fromkeys(("MTBenchError", "UserError", "RunFailed"), "mtbench.core.errors"),
    "ConfigError": "mtbench.core.options",
}

__all__ = [
    "Answers", "ConfigError", "Evaluation", "Files", "Judged", "MTBenchError", "RunFailed", "Scores", "Usage",
    "UserError", "__version__", "evaluate", "generate_answers", "judge", "scores",
]

if TYPE_CHECKING:
    from mtbench.api import (
        Answers,
        Evaluation,
        Files,
        Judged,
        Scores,
        Usage,
        evaluate,
        generate_answers,
        judge,
        scores,
    )
    from mtbench.core.errors import MTBenchError, RunFailed, UserError
    from mtbench.core.options import ConfigError


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'mtbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
