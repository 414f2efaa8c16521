"""Loading a Hugging Face model for one replica: where it is, which device and dtype, tokenizer, weights.

``check_model_location`` looks at the files first, so a wrong ``--model-path`` or ``--gguf-file`` is one
line naming the real problem, said before torch or transformers is imported; transformers' own messages
for these ("Repo id must be in the form ...", a hub URL for a local GGUF) name the wrong one.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.core.errors import UserError
from mtbench.core.templates import resolve_template
from mtbench.gen_model_answer.config import ModelSpec
from mtbench.gen_model_answer.engine import first_line
from mtbench.gen_model_answer.gguf_cache import cached_or_none

if TYPE_CHECKING:
    import torch

    from mtbench.gen_model_answer.hf_generator import HFGenerator

log = logging.getLogger("mtbench")

# A Hugging Face hub id ("name" or "org/name"); anything else that is not on disk cannot be a model.
_HUB_ID = re.compile(r"[\w-][\w.-]*(/[\w-][\w.-]*)?")
# Files one of which a transformers tokenizer folder holds (fast, sentencepiece, BPE, WordPiece, tiktoken).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model", "merges.txt", "tekken.json")


def looks_like_hub_id(name: str) -> bool:
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name and "--" not in name


def _gguf_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.gguf"))


def check_model_location(spec: ModelSpec) -> None:
    """A ``UserError`` naming the flag and what is missing when ``spec`` cannot point at a model on disk.

    A name that is not on disk but is shaped like a hub id is left to transformers (it may sit in the
    Hugging Face cache); ``load_error`` then says that it is neither a local folder nor reachable.
    """
    path = Path(spec.path)
    if not path.exists():
        if looks_like_hub_id(spec.path):
            return
        raise UserError(f"--model-path {spec.path}: no such folder")
    if not path.is_dir():
        hint = (f"; pass its folder as --model-path and --gguf-file {path.name}"
                if path.suffix == ".gguf" else "")
        raise UserError(f"--model-path {spec.path}: a file, not a model folder{hint}")
    ggufs = _gguf_names(path)
    if spec.gguf_file:
        if not (path / spec.gguf_file).is_file():
            there = f" (its GGUF files: {', '.join(ggufs)})" if ggufs else " (it holds no .gguf file)"
            raise UserError(f"--gguf-file {spec.gguf_file}: no such file in {spec.path}{there}")
        return
    if not (path / "config.json").is_file():
        hint = f"; for a GGUF model add --gguf-file (it holds {', '.join(ggufs)})" if ggufs else ""
        raise UserError(f"--model-path {spec.path}: not a model folder (it has no config.json){hint}")
    if not any((path / name).is_file() for name in TOKENIZER_FILES) and not list(path.glob("*.tiktoken")):
        raise UserError(
            f"--model-path {spec.path}: the folder has no tokenizer (none of {', '.join(TOKENIZER_FILES[:4])}, ...)"
        )


def load_error(spec: ModelSpec, what: str, e: BaseException) -> UserError:
    """The one line for a tokenizer or model that transformers could not load."""
    if not Path(spec.path).exists():
        return UserError(
            f"--model-path {spec.path}: not a local folder, and no hub model of that name could be loaded "
            f"(offline, or not in the Hugging Face cache): {first_line(e)}"
        )
    return UserError(f"--model-path {spec.path}: cannot load the {what} ({first_line(e)})")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    return device


def resolve_dtype(dtype: str | None, device: str) -> torch.dtype:
    import torch

    if dtype is None:
        dtype = "float16" if device == "cuda" else "float32"
    value: torch.dtype = getattr(torch, dtype)
    return value


def _source(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """What to hand transformers' from_pretrained for ``spec``: a path and its revision or GGUF file. A local
    GGUF comes from its converted folder (converted on first use; see gguf_cache), where that can be kept."""
    if spec.gguf_file and (Path(spec.path) / spec.gguf_file).is_file():
        converted = cached_or_none(Path(spec.path), spec.gguf_file)
        if converted is not None:
            return str(converted), {}
    if spec.gguf_file:
        return spec.path, {"revision": spec.revision, "gguf_file": spec.gguf_file}  # de-quantized to `dtype`
    return spec.path, {"revision": spec.revision}


def load_tokenizer(spec: ModelSpec) -> Any:
    """The replica's tokenizer, left-padding, with a pad token (EOS or UNK where it has none)."""
    check_model_location(spec)
    from transformers import AutoTokenizer

    try:
        path, kwargs = _source(spec)
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as e:
        raise load_error(spec, "tokenizer", e) from None
    tokenizer.padding_side = "left"  # decoder-only batches: every row's last prompt token at the same column
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def _max_memory(spec: ModelSpec) -> dict[int, str]:
    import torch

    if spec.max_gpu_memory:
        return {i: spec.max_gpu_memory for i in range(spec.num_gpus)}
    # FastChat: without a cap, 85% of what is free on each GPU.
    out = {}
    for i in range(spec.num_gpus):
        free, _ = torch.cuda.mem_get_info(i)
        out[i] = f"{int(free * 0.85 / 2**30)}GiB"
    return out


def load_generator(spec: ModelSpec) -> HFGenerator:
    """Load tokenizer and weights for one replica (on the GPUs this process sees, or the CPU)."""
    check_model_location(spec)
    import torch
    from transformers import AutoModelForCausalLM

    from mtbench.gen_model_answer.hf_generator import HFGenerator

    if spec.cpu_threads:
        torch.set_num_threads(spec.cpu_threads)
    device = resolve_device(spec.device)
    tokenizer = load_tokenizer(spec)
    template = resolve_template(spec.chat_template, tokenizer, spec.chat_template_kwargs)
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(spec.dtype, device)}
    if device == "cuda" and spec.num_gpus > 1:
        # Model parallel over this replica's GPUs; FastChat's choice of map for each case.
        kwargs["device_map"] = "auto" if spec.max_gpu_memory else "sequential"
        kwargs["max_memory"] = _max_memory(spec)
    try:
        path, where = _source(spec)
        model = AutoModelForCausalLM.from_pretrained(path, **where, **kwargs)
    except (OSError, ValueError) as e:
        raise load_error(spec, "model", e) from None
    if "device_map" not in kwargs:
        model.to(device)  # type: ignore[arg-type]  # transformers types .to() as taking a model
    model.eval()
    return HFGenerator(model=model, tokenizer=tokenizer, template=template, batch_size=spec.batch_size)
