"""A GGUF model converted once into a plain transformers folder, and loaded from there afterwards.

transformers re-reads and de-quantizes a GGUF on every load: for SmolLM2-135M (the demo's model) 43 s for
the weights and 11 s for the tokenizer on a 2-core CPU, where the converted folder loads in 2 s. The
demo loads its model twice (to answer, then to judge), a local judge once per run, every Ray replica once.
The weights are the same either way: the converted folder holds what transformers de-quantized, in float32.

The folder lives under ``$MTBENCH_CACHE`` (else ``$XDG_CACHE_HOME/mtbench``, else ``~/.cache/mtbench``), in
``gguf/``, named after the file and keyed by its absolute path, size and modification time, so a changed
file converts again. A cache that cannot be written is not an error: the model loads from the GGUF itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("mtbench")

CACHE_ENV = "MTBENCH_CACHE"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mtbench"


def converted_path(folder: Path, gguf_file: str, root: Path | None = None) -> Path:
    """Where the conversion of ``folder/gguf_file`` is kept (it may not exist yet)."""
    source = (folder / gguf_file).resolve()
    stat = source.stat()
    key = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return (root or cache_root()) / "gguf" / f"{Path(gguf_file).stem}-{key}"


def converted_folder(folder: Path, gguf_file: str, root: Path | None = None) -> Path:
    """The transformers folder converted from ``folder/gguf_file``, converting it now if it is not there.
    Processes that ask at once (Ray replicas, parallel test workers) convert it once: one converts while
    the others wait on its lock. Raises OSError where the cache cannot be written."""
    from filelock import FileLock

    out = converted_path(folder, gguf_file, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{out}.lock"):
        if not (out / "config.json").is_file():
            log.info("converting %s to a transformers folder, once: %s", gguf_file, out)
            _convert(folder, gguf_file, out)
    return out


def cached_or_none(folder: Path, gguf_file: str) -> Path | None:
    """``converted_folder``, or None (after one logged line) where the cache cannot be written."""
    try:
        return converted_folder(folder, gguf_file)
    except OSError as e:
        log.warning("cannot cache the converted %s (%s); loading the GGUF itself, which is slower", gguf_file, e)
        return None


def _convert(folder: Path, gguf_file: str, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    # A model loaded from GGUF refuses save_pretrained; the same weights in a fresh model do not.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)  # complete or absent: a killed conversion is redone by the next load
