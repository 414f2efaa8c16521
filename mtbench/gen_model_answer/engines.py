"""Which engine loads a replica: the one place ``ModelSpec.engine`` is turned into a ``Generator``."""

from __future__ import annotations

from mtbench.gen_model_answer.config import ModelSpec, resolve_engine
from mtbench.gen_model_answer.engine import Generator

__all__ = ["check_engine", "load_engine", "resolve_engine"]


def check_engine(spec: ModelSpec) -> None:
    """A one-line UserError now, before any model loads, where ``spec``'s engine cannot be imported."""
    if spec.engine == "vllm":
        from mtbench.gen_model_answer.vllm_generator import import_vllm

        import_vllm()


def load_engine(spec: ModelSpec) -> Generator:
    """One replica of ``spec``'s model on its engine (imports the engine's libraries only here)."""
    if spec.engine == "vllm":
        from mtbench.gen_model_answer.vllm_generator import load_vllm_generator

        return load_vllm_generator(spec)
    from mtbench.gen_model_answer.hf_loading import load_generator

    return load_generator(spec)
