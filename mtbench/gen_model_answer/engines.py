"""Which engine loads a replica: the one place ``ModelSpec.engine`` is turned into a ``Generator``."""

from __future__ import annotations

import importlib.util

from mtbench.gen_model_answer.config import ModelSpec
from mtbench.gen_model_answer.engine import Generator


def resolve_engine(name: str) -> str:
    """``auto`` -> ``vllm`` where vLLM is installed and a CUDA GPU is visible, else ``hf``; others as given."""
    if name != "auto":
        return name
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    from mtbench.gen_model_answer.hf_loading import visible_cuda_devices

    return "vllm" if visible_cuda_devices() else "hf"


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
