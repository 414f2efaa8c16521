"""``mtbench judge --batch``: the same judging through an OpenAI-compatible Batch API, at its price.

Upload a JSONL of requests (``POST /v1/files``, purpose batch), create a batch on it (``POST
/v1/batches``, the chat completions endpoint, a 24h window), poll it (``GET /v1/batches/{id}``), then
download its output and error files and write one record per match, as live judging would (same
prompts, parsing and records, plus ``batch_id``).

Kill-safe and exactly once. A hidden sidecar next to the judgment file (``.NAME.batches.json``) holds
each submission: its match keys first (saved before anything is sent), then its uploaded file id,
then its batch id, each saved the moment it is known. A rerun resumes every submission where it
stopped: one with no file is uploaded, one with a file but no batch id looks for a batch made on
that file before creating one (a kill between the create and the save), one with a batch id is
polled. Matches in a submission are never submitted again (unless their prompt changed since: the
sidecar keeps a digest of each match's requests, and the old result is then dropped); a finished batch's results are written
under the judgment file's lock (``judge`` holds it), skipping any match whose record this submission
already wrote, and only then is the submission removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.jsonl import LazyJsonlWriter
from mtbench.core.progress import bars_on
from mtbench.core.records import PairJudgment, SingleJudgment
from mtbench.gen_judgment.batch_requests import (
    match_id,
    match_results,
    missing_reason,
    parse_results,
    request_lines,
    split_batches,
)
from mtbench.gen_judgment.matches import Match, sample_seed
from mtbench.gen_judgment.plan import JudgePlan, load_existing
from mtbench.gen_judgment.results import JudgeSummary, match_outcome, record_failure_kinds

log = logging.getLogger("mtbench")

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def sidecar_path(output: Path) -> Path:
    """Where a judgment file's batches in flight are kept: hidden, next to it, not a *.jsonl."""
    return output.with_name(f".{output.name}.batches.json")


@dataclass
class Submission:
    """One batch, from before it is sent to when its results are written."""

    token: str  # also the batch's metadata, to know it again
    keys: list[str]  # match ids (``match_id``)
    created: float  # records of these matches written after this are this submission's own
    file_id: str | None = None
    batch_id: str | None = None
    digests: dict[str, str] = field(default_factory=dict)  # match id -> digest of its requests as sent


@dataclass
class Sidecar:
    path: Path
    submissions: list[Submission] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Sidecar:
        if not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text())
            subs = [Submission(**s) for s in data["submissions"]]
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not a batch sidecar mtbench can read ({e}); it lists the batches in "
                            "flight: check them on the provider's dashboard, then remove the file") from None
        return cls(path, subs)

    def save(self) -> None:
        """Atomically: a kill leaves the old file or the new, never half of one."""
        if not self.submissions:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        data = {"version": 1, "submissions": [dataclasses.asdict(s) for s in self.submissions]}
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def keys(self) -> set[str]:
        return {k for s in self.submissions for k in s.keys}


class BatchApi:
    """The few Batch API calls, through the openai SDK (its retries for these control calls)."""

    def __init__(self, plan: JudgePlan):
        endpoint = plan.config.endpoint
        self._key = endpoint.api_key()
        self._client = endpoint.sdk_client(self._key, timeout=endpoint.timeout,
                                           max_retries=endpoint.retry.max_retries)
        self.where = str(self._client.base_url)

    async def __aenter__(self) -> BatchApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def _call(self, what: str, call: Any) -> Any:
        try:
            return await call
        except openai.APIError as e:
            raise RunFailed(f"{self.where}: {what} failed: {str(e).replace(self._key, '***')}") from None

    async def upload(self, data: bytes, name: str) -> str:
        file = await self._call("uploading the batch file", self._client.files.create(file=(name, data), purpose="batch"))
        return str(file.id)

    async def find(self, file_id: str) -> str | None:
        """The batch already made on ``file_id``, if a run was killed before it saved the batch's id."""
        async def scan() -> str | None:
            async for batch in self._client.batches.list(limit=100):
                if batch.input_file_id == file_id:
                    return str(batch.id)
            return None

        return await self._call("listing batches", scan())

    async def create(self, file_id: str, token: str) -> str:
        batch = await self._call("creating the batch", self._client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata={"mtbench_submission": token},
        ))
        return str(batch.id)

    async def retrieve(self, batch_id: str) -> Any:
        return await self._call(f"polling {batch_id}", self._client.batches.retrieve(batch_id))

    async def content(self, file_id: str | None) -> bytes:
        if not file_id:
            return b""
        response = await self._call(f"downloading {file_id}", self._client.files.content(file_id))
        return bytes(response.content)


@dataclass
class _Run:
    plan: JudgePlan
    sidecar: Sidecar
    api: BatchApi
    writer: LazyJsonlWriter
    todo: dict[str, Match]
    failures: Counter[str] = field(default_factory=Counter)
    replies: int = 0  # judge replies in the records written (the failure gate's base)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    dropped: int = 0

    def digest(self, match: Match) -> str:
        return request_digest(request_lines(match, self.plan.config.judge_model, request_fields(self.plan, match)))

    def lines(self, sub: Submission) -> bytes:
        c = self.plan.config
        return b"".join(line for key in sub.keys if key in self.todo
                        for line in request_lines(self.todo[key], c.judge_model, request_fields(self.plan, self.todo[key])))

    async def submit(self, sub: Submission) -> None:
        """Bring one submission to "has a batch id", saving each step before the next."""
        if sub.batch_id:
            return
        if sub.file_id is None:
            data = self.lines(sub)
            sub.file_id = await self.api.upload(data, f"mtbench-{sub.token}.jsonl")
            self.sidecar.save()
        found = await self.api.find(sub.file_id)
        sub.batch_id = found or await self.api.create(sub.file_id, sub.token)
        self.sidecar.save()
        self.announce(f"batch {sub.batch_id}: {'found' if found else 'submitted'}, {len(sub.keys)} match(es)")

    def announce(self, text: str) -> None:
        if bars_on(self.plan.config.progress):
            print(text, file=sys.stderr, flush=True)

    async def collect(self, sub: Submission, batch: Any) -> None:
        """Write the records of a finished batch: once per match, then forget the submission."""
        batch_id = str(sub.batch_id)
        results = parse_results(await self.api.content(batch.error_file_id), batch_id)
        results.update(parse_results(await self.api.content(batch.output_file_id), batch_id))
        errors = [e.model_dump() if hasattr(e, "model_dump") else dict(e)
                  for e in (getattr(batch.errors, "data", None) or [])]
        missing = missing_reason(str(batch.status), batch_id, errors)
        on_disk = load_existing(self.plan.output, self.plan.config.mode)
        c = self.plan.config
        for key in sub.keys:
            match = self.todo.get(key)
            done = on_disk.get(match.key) if match is not None else None
            if match is not None and key in sub.digests and sub.digests[key] != self.digest(match):
                match = None  # its prompt changed since it was sent: a new batch judges it as it is now
            if match is None or (done is not None and done.tstamp >= sub.created):
                self.dropped += match is None
                continue
            calls = match_results(match, results, missing)
            self.requests += len(calls)
            self.prompt_tokens += sum(r.prompt_tokens or 0 for r in calls)
            self.completion_tokens += sum(r.completion_tokens or 0 for r in calls)
            record = match_outcome(match, calls, c.temperature, c.max_tokens, self.plan.provenance).value
            if record is None:  # never: a batch failure is a request-level failure, recorded
                continue
            record = _with_batch_id(record, batch_id)
            self.writer.write(record)
            self.failures.update(record_failure_kinds(record))
            self.replies += 2 if isinstance(record, PairJudgment) else 1
            del self.todo[key]
        self.sidecar.submissions.remove(sub)
        self.sidecar.save()

    async def poll(self) -> None:
        pending = list(self.sidecar.submissions)
        shown: dict[str, str] = {}
        while pending:
            for sub in list(pending):
                batch = await self.api.retrieve(str(sub.batch_id))
                counts = batch.request_counts
                line = (f"batch {sub.batch_id}: {batch.status}, {getattr(counts, 'completed', 0)}/"
                        f"{getattr(counts, 'total', 0)} completed, {getattr(counts, 'failed', 0)} failed")
                if shown.get(str(sub.batch_id)) != line:
                    shown[str(sub.batch_id)] = line
                    self.announce(line)
                if batch.status in TERMINAL:
                    await self.collect(sub, batch)
                    pending.remove(sub)
            if pending:
                await asyncio.sleep(self.plan.config.batch_poll_interval)


def request_fields(plan: JudgePlan, match: Match) -> dict[str, Any]:
    """The fields a match's requests carry besides their messages, as live judging sends them (a
    sample's own seed over --judge-extra-body's)."""
    c = plan.config
    seed = sample_seed(match.sample)
    return {"temperature": c.temperature, "max_tokens": c.max_tokens, **c.extra_body,
            **({} if seed is None else {"seed": seed})}


def request_digest(lines: list[bytes]) -> str:
    return hashlib.sha256(b"".join(lines)).hexdigest()[:16]


def _with_batch_id(record: SingleJudgment | PairJudgment, batch_id: str) -> SingleJudgment | PairJudgment:
    return dataclasses.replace(record, extra={**record.extra, "batch_id": batch_id})


def plan_submissions(plan: JudgePlan, sidecar: Sidecar) -> None:
    """Add submissions for the matches left to judge that no batch in flight holds as they are now;
    saved at once, before anything is sent."""
    c = plan.config
    lines = {match_id(m): request_lines(m, c.judge_model, request_fields(plan, m)) for m in plan.resume.todo}
    sent = {k: s.digests.get(k) for s in sidecar.submissions for k in s.keys}
    # A match is held by a batch in flight unless its prompt changed since (then that result is dropped).
    new = [m for m in plan.resume.todo
           if (k := match_id(m)) not in sent or sent[k] not in (None, request_digest(lines[k]))]
    for group in split_batches(new, lines, max_requests=c.batch_max_requests, max_bytes=c.batch_max_bytes):
        digests = {match_id(m): request_digest(lines[match_id(m)]) for m in group}
        sidecar.submissions.append(Submission(uuid.uuid4().hex, list(digests), time.time(), digests=digests))
    sidecar.save()


async def _run(plan: JudgePlan) -> JudgeSummary:
    started = time.monotonic()
    sidecar = Sidecar.load(sidecar_path(plan.output))
    plan_submissions(plan, sidecar)
    with contextlib.ExitStack() as files:
        async with BatchApi(plan) as api:
            run = _Run(plan, sidecar, api, LazyJsonlWriter(plan.output, files), {match_id(m): m for m in plan.resume.todo})
            for sub in list(sidecar.submissions):
                if not any(key in run.todo for key in sub.keys) and not sub.batch_id:
                    sidecar.submissions.remove(sub)  # planned, never sent, and every match is on disk now
                    sidecar.save()
                    continue
                await run.submit(sub)
            await run.poll()
    if run.dropped:
        log.warning("%d batch result(s) were for matches no longer to judge (judged since, or their prompt "
                    "changed); not written", run.dropped)
    cost = None if plan.price is None else plan.price.cost(run.prompt_tokens, run.completion_tokens)
    return JudgeSummary(
        written=run.writer.written, failures=dict(run.failures), unanswered={}, calls=run.requests,
        attempts=run.requests, prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens,
        cost=cost, elapsed_s=time.monotonic() - started, replies=run.replies,
    )


def run_batch(plan: JudgePlan) -> JudgeSummary:
    """Judge the plan's matches through the Batch API, resuming any batch in flight; the caller holds
    the judgment file (``judge`` does)."""
    return asyncio.run(_run(plan))

