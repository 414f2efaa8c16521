"""The vLLM engine (issue 16): not built yet."""

from __future__ import annotations

from mtbench.errors import UserError
from mtbench.gen_model_answer.config import ModelSpec
from mtbench.gen_model_answer.engine import Generator


def load_vllm_generator(spec: ModelSpec) -> Generator:
    raise UserError("--engine vllm: not implemented yet")
