"""scripts/gpu_prepare.py: the offline GPU check's carry folder holds the model's small files, the questions
and an importable shortuuid, and leaves the weights behind."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _prepare_module():
    spec = importlib.util.spec_from_file_location("gpu_prepare", REPO / "scripts" / "gpu_prepare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_carry_folder_has_config_tokenizer_questions_and_shortuuid(tmp_path, monkeypatch, capsys):
    model = tmp_path / "model"  # a converted folder's files (the script only copies them: no torch here)
    model.mkdir()
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja", "model.safetensors"):
        (model / name).write_text('{"hidden_size": 64}' if name == "config.json" else name)
    questions = tmp_path / "question.jsonl"
    questions.write_text('{"question_id": 81, "category": "writing", "turns": ["a", "b"]}\n')
    out = tmp_path / "carry"
    monkeypatch.setattr(sys, "argv", ["gpu_prepare.py", "--out", str(out), "--model-folder", str(model),
                                      "--question-file", str(questions)])
    assert _prepare_module().main() == 0
    assert "MiB" in capsys.readouterr().out
    carried = sorted(p.name for p in (out / "model").iterdir())
    assert carried == ["chat_template.jinja", "config.json", "generation_config.json", "tokenizer.json",
                       "tokenizer_config.json"]
    assert not list(out.rglob("*.safetensors"))  # the weights are built on the device
    assert json.loads((out / "model" / "config.json").read_text())["hidden_size"] == 64
    assert (out / "data" / "mt_bench" / "question.jsonl").read_text() == questions.read_text()
    assert not out.with_name("carry.partial").exists()
    # The carried site/ alone (no venv site-packages: -S, -I) makes shortuuid importable.
    code = f"import sys; sys.path.insert(0, {str(out / 'site')!r}); import shortuuid; print(shortuuid.__file__)"
    found = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.startswith(str(out / "site"))


def test_missing_model_folder_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["gpu_prepare.py", "--out", str(tmp_path / "carry"), "--model-folder",
                                      str(tmp_path), "--question-file", str(tmp_path / "q.jsonl")])
    with pytest.raises(SystemExit, match="no config.json"):
        _prepare_module().main()
