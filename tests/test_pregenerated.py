"""`mtbench download --pregenerated`: the 31 official answer files and GPT-4's judgments from a Hugging Face space
layout served over real HTTP on 127.0.0.1; corruption refused, interrupted runs resumed file by file."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtbench.core.errors import RunFailed, UserError
from mtbench.download.pregenerated import ANSWER_PINS, PregeneratedConfig, download_pregenerated
from tests.cli import mtbench
from tests.helpers import QuietHTTPServer

from .conftest import MT_BENCH_DATA, REFERENCE_RUNS

REPO = Path(__file__).resolve().parent.parent
SPACE_PATH = "/spaces/lmsys/mt-bench/resolve/main/"  # as on huggingface.co, to keep the URL joining honest
ANSWERS = REFERENCE_RUNS / "model_answer"
# Real FastChat judgment files (third-party runs) stand in for the official ones, which we do not have.
SINGLE = REFERENCE_RUNS / "third_party_runs" / "muhan421_fastchat-eval" / "model_judgment" / "gpt-4_single.jsonl"
PAIR = REFERENCE_RUNS / "third_party_runs" / "Stefanstud_FastChat" / "model_judgment" / "gpt-4_pair.jsonl"
SINGLE_REL = "mt_bench/model_judgment/gpt-4_single.jsonl"
PAIR_REL = "mt_bench/model_judgment/gpt-4_pair.jsonl"
ALL_FILES = 33


def space_files() -> dict[str, bytes]:
    """data-dir relative path -> bytes, the 31 answer files and the two judgment files."""
    files = {f"mt_bench/model_answer/{name}.jsonl": (ANSWERS / f"{name}.jsonl").read_bytes() for name in ANSWER_PINS}
    files[SINGLE_REL] = SINGLE.read_bytes()
    files[PAIR_REL] = PAIR.read_bytes()
    return files


class SpaceServer:
    """The HF space's data/ tree over HTTP. ``files`` can be edited between runs; ``fail_after`` makes every
    request after that many answer with 503; ``cut`` names files whose body stops halfway."""

    def __init__(self) -> None:
        self.files = space_files()
        self.requests: list[str] = []  # data-dir relative paths asked for
        self.fail_after: int | None = None
        self.cut: set[str] = set()
        self._lock = threading.Lock()
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix = SPACE_PATH + "data/"
                rel = self.path[len(prefix):] if self.path.startswith(prefix) else None
                with state._lock:
                    state.requests.append(rel or self.path)
                    refused = state.fail_after is not None and len(state.requests) > state.fail_after
                if refused:
                    self.send_error(503, "Service Unavailable")
                    return
                if rel not in state.files:
                    self.send_error(404)
                    return
                body = state.files[rel]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if rel in state.cut else body)

            def log_message(self, *args) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}{SPACE_PATH}"

    def __enter__(self) -> SpaceServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def space() -> Iterator[SpaceServer]:
    with SpaceServer() as server:
        yield server


def download(space: SpaceServer, data: Path, **kw):
    return download_pregenerated(PregeneratedConfig(data_dir=data, base_url=space.base_url, progress=False, **kw))


def listing(data: Path) -> dict[str, bytes]:
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return mtbench("download", *args, env=env, cwd=REPO)


def test_pins_are_the_official_files():
    # the pins in the code are the sha256 and sizes of shared/mt_bench_reference/model_answer (SOURCE.md)
    assert sorted(ANSWER_PINS) == sorted(p.stem for p in ANSWERS.glob("*.jsonl"))
    for name, (digest, size) in ANSWER_PINS.items():
        data = (ANSWERS / f"{name}.jsonl").read_bytes()
        assert (sha256(data), len(data)) == (digest, size), name


def test_cli_downloads_all_then_rerun_fetches_nothing(tmp_path: Path, space: SpaceServer):
    data = tmp_path / "data"
    out = download_cli("--from", str(MT_BENCH_DATA), "--data-dir", str(data), "--pregenerated",
                  "--pregenerated-base-url", space.base_url)
    assert out.returncode == 0, out.stderr
    assert f"pre-generated: {ALL_FILES} files in {data} ({ALL_FILES} fetched, 0 already present)" in out.stdout
    got = listing(data)
    for rel, body in space.files.items():
        assert got[rel] == body, rel
    assert sorted(space.requests) == sorted(space.files)  # each file asked for exactly once
    assert not [p for p in got if p.endswith(".part")]

    # the base URL from the environment; everything is present and verified: no request at all
    space.requests.clear()
    again = download_cli("--from", str(MT_BENCH_DATA), "--data-dir", str(data), "--pregenerated",
                    env={"MTBENCH_PREGENERATED_BASE_URL": space.base_url})
    assert again.returncode == 0, again.stderr
    assert f"(0 fetched, {ALL_FILES} already present)" in again.stdout
    assert space.requests == []


def test_corrupted_answer_is_refused_naming_the_file(tmp_path: Path, space: SpaceServer):
    rel = "mt_bench/model_answer/vicuna-13b-v1.3.jsonl"
    good = space.files[rel]
    bad = bytearray(good)
    bad[5000] ^= 0x01
    space.files[rel] = bytes(bad)
    data = tmp_path / "data"
    with pytest.raises(RunFailed) as e:
        download(space, data)
    message = str(e.value)
    assert message.startswith(f"1 of {ALL_FILES} pre-generated files failed ({ALL_FILES - 1} are in place")
    assert f"{rel} from huggingface {space.base_url}" in message
    assert f"sha256 {sha256(bytes(bad))}; expected {len(good)} bytes, sha256 {sha256(good)}" in message
    assert rel not in listing(data) and len(listing(data)) == ALL_FILES - 1  # no partial or temp file

    # the server is fixed: the rerun asks for that one file only
    space.files[rel] = good
    space.requests.clear()
    outcomes = download(space, data)
    assert space.requests == [rel]
    assert [o.file.path for o in outcomes if o.fetched] == [rel]
    assert listing(data)[rel] == good


def test_cli_error_is_one_line(tmp_path: Path, space: SpaceServer):
    space.files[PAIR_REL] = space.files[PAIR_REL].replace(b'"g1_winner"', b'"g1_verdict"', 1)
    out = download_cli("--from", str(MT_BENCH_DATA), "--data-dir", str(tmp_path / "data"), "--pregenerated",
                  "--pregenerated-base-url", space.base_url)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("mtbench download: error: 1 of 33 pre-generated files failed")
    assert f"{PAIR_REL} from huggingface" in lines[-1]
    assert "is not valid: not a pair judgment file: line 1: missing field 'g1_winner'" in lines[-1]
    # the reader's "run `mtbench repair FILE`" would name a temp file that no longer exists
    assert "repair" not in lines[-1] and ".part" not in lines[-1]
    assert "Traceback" not in out.stderr


def test_server_failing_halfway_then_resume(tmp_path: Path, space: SpaceServer):
    data = tmp_path / "data"
    space.fail_after = 12
    cut = "mt_bench/model_answer/gpt-4.jsonl"  # among the first 12: its transfer breaks off mid-body
    space.cut.add(cut)
    with pytest.raises(RunFailed) as e:
        download(space, data)
    assert f"{ALL_FILES - 11} of {ALL_FILES} pre-generated files failed (11 are in place" in str(e.value)
    assert "HTTP 503" in str(e.value) and "FILE = " in str(e.value) and "more]" in str(e.value)
    kept = listing(data)
    assert len(kept) == 11 and cut not in kept  # whole, verified files only: nothing partial
    for rel, body in kept.items():
        assert space.files[rel] == body

    space.fail_after = None
    space.cut.clear()
    space.requests.clear()
    download(space, data)
    assert sorted(space.requests) == sorted(set(space.files) - set(kept))  # only what was missing
    assert listing(data) == space.files


def test_present_files_are_verified_not_refetched(tmp_path: Path, space: SpaceServer):
    data = tmp_path / "data"
    present = ["mt_bench/model_answer/alpaca-13b.jsonl", "mt_bench/model_answer/llama-13b.jsonl", SINGLE_REL]
    for rel in present:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(space.files[rel])
    download(space, data)
    assert sorted(space.requests) == sorted(set(space.files) - set(present))

    # a present answer file with one byte changed, or a judgment file cut short, is refused, not overwritten
    answer = data / present[0]
    answer.write_bytes(answer.read_bytes()[:-2] + b"X\n")
    with pytest.raises(UserError, match=f"{answer}: sha256 [0-9a-f]{{64}} does not match the pinned"):
        download(space, data)
    answer.write_bytes(space.files[present[0]])
    single = data / SINGLE_REL
    single.write_bytes(space.files[SINGLE_REL][:-100])
    with pytest.raises(UserError, match=f"{single}: present but not valid \\(the last line is cut off\\)"):
        download(space, data)
    space.requests.clear()
    download(space, data, force=True)  # --force fetches it again
    assert space.requests == [SINGLE_REL]
    assert single.read_bytes() == space.files[SINGLE_REL]


def test_judgment_file_of_the_wrong_kind_is_refused(tmp_path: Path, space: SpaceServer):
    space.files[SINGLE_REL] = space.files[PAIR_REL]  # a pair file where the single file belongs
    with pytest.raises(RunFailed, match=f"{SINGLE_REL} from huggingface .* is not valid: not a single judgment "
                                        "file: line 1: missing field 'judgment'"):
        download(space, tmp_path / "data")
    assert not (tmp_path / "data" / SINGLE_REL).exists()
