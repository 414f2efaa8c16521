"""`mtbench browse`: a local web UI over a bench's questions, answers and judgments (FastChat's qa_browser).

An aiohttp server bound to 127.0.0.1 by default: one HTML page, its JS and CSS as files, and JSON
endpoints the page draws from. Untrusted text reaches the page only as ``textContent`` or as HTML that
``webview.markup`` rendered with raw HTML off, and the Content-Security-Policy allows no inline script at all,
so an answer that carries ``<script>`` is shown, never run. The files are re-read when they change on
disk, so the page follows a judge run that is still writing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from mtbench.core.bench import BenchLayout, Mode
from mtbench.core.errors import UserError
from mtbench.core.options import ConfigError, check, nested, option
from mtbench.protocols import protocol_for, refuse_protocol
from mtbench.show_result.command import control_option
from mtbench.show_result.stats import DEFAULT_BOOTSTRAP, DEFAULT_SEED
from mtbench.webview.bench_view import BenchView, files_signature, load_bench_view
from mtbench.webview.board import judge_report, radar_png

log = logging.getLogger("mtbench")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def port_number(text: str) -> int:
    """--port's text as a port number, 0-65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise ValueError(f"must be 0-65535, got {value}")
    return value


@dataclass(frozen=True)
class BrowseConfig:
    """What the browser serves and where it listens."""

    layout: BenchLayout = nested(default_factory=BenchLayout)
    judge_models: tuple[str, ...] = option(
        (), flag="--judge-model", metavar="JUDGE", help="show only this judge's JUDGE_single/JUDGE_pair.jsonl "
        "(one judge: a jury's table is `mtbench show` and `mtbench report`'s)", default_help="every judge found")
    jury_file: Path | None = option(None, flag="--jury", metavar="FILE",
                                    help="refused: browse shows one judge at a time (see --judge-model)")
    host: str = option(DEFAULT_HOST, help="address to listen on",
                       default_help=f"{DEFAULT_HOST}: this machine only; 0.0.0.0 shares it on the network")
    port: int = option(DEFAULT_PORT, parse=port_number, help="port", default_help=f"{DEFAULT_PORT}; 0 picks a free one")
    control: str | None = control_option()
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = DEFAULT_SEED
    judge_model: str | None = None  # the one judge shown (None: every judge found)

    def __post_init__(self) -> None:
        check(0 <= self.port <= 65535, f"{{port}} must be 0-65535, got {self.port}")
        names = tuple(dict.fromkeys(self.judge_models))
        # A jury's view in the browser is not built yet: refused in one line rather than showing one judge of it.
        jury = "{jury_file}" if self.jury_file is not None else "several {judge_models}" if len(names) > 1 else None
        check(jury is None, f"browse shows one judge at a time, not a jury ({jury}); a jury's table is "
                            "`mtbench show` or `mtbench report` with the same flags")
        if names:
            object.__setattr__(self, "judge_model", names[0])


def static_text(name: str) -> str:
    return (resources.files("mtbench.webview") / "static" / name).read_text(encoding="utf-8")


class BrowseState:
    """The current view of the files, rebuilt when any of them changed since the last request."""

    def __init__(self, config: BrowseConfig, view: BenchView | None = None, signature: tuple | None = None):
        self.config = config
        self._signature = signature
        self._view = view
        self._cache: dict[tuple, Any] = {}
        self._lock = asyncio.Lock()

    def load(self) -> BenchView:
        signature = files_signature(self.config.layout)
        if self._view is None or signature != self._signature:
            self._view = load_bench_view(self.config.layout, self.config.judge_model)
            self._signature = signature
            self._cache.clear()
        return self._view

    async def view(self) -> BenchView:
        async with self._lock:
            return await asyncio.to_thread(self.load)

    async def cached(self, key: tuple, compute: Callable[[BenchView], Any]) -> Any:
        view = await self.view()
        if key not in self._cache:
            self._cache[key] = await asyncio.to_thread(compute, view)
        return self._cache[key]


# ---------------------------------------------------------------------------------------------------
# leaderboard (show_result's tables and radar figure)


def leaderboard(
    view: BenchView, judge: str, mode: str, baseline: str | None, n_bootstrap: int, seed: int,
    control: str | None = None,
) -> dict:
    """``mtbench show``'s JSON for one judge and mode, read from the judge's file (its rows carry
    ``n_questions`` and ``partial``, its top level ``bench_questions``)."""
    from mtbench.show_result import render

    report = judge_report(
        view.layout, _judgment_file(view, judge, mode), judge, mode,
        baseline=baseline, n_bootstrap=n_bootstrap, seed=seed, control=control,
    )
    return json.loads(render(report, "json"))


def radar(view: BenchView, judge: str, seed: int) -> bytes:
    """The radar chart's PNG (no bootstrap: the chart shows means only)."""
    path = _judgment_file(view, judge, "single")
    report = judge_report(view.layout, path, judge, "single", n_bootstrap=0, seed=seed)
    png = radar_png(report, judge)
    if png is None:
        raise UserError("no per-category scores (no question file and not MT-bench's question ids)")
    return png


def _judgment_file(view: BenchView, judge: str, mode: str) -> Path:
    files = view.judges.get(judge)
    kind = Mode.parse(mode).kind
    path = None if files is None else getattr(files, kind)
    if path is None:
        raise UserError(f"judge {judge!r} has no {kind} judgment file")
    return path


# ---------------------------------------------------------------------------------------------------
# handlers


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, allow_nan=False), status=status, content_type="application/json"
    )


def _param(request: web.Request, name: str, *, required: bool = True) -> str | None:
    value = request.query.get(name)
    if required and not value:
        raise UserError(f"missing query parameter {name!r}")
    return value or None


def _int_param(request: web.Request, name: str) -> int:
    text = _param(request, name)
    try:
        return int(text)  # type: ignore[arg-type]
    except ValueError:
        raise UserError(f"query parameter {name!r} must be an integer, got {text!r}") from None


def _judge_param(request: web.Request, view: BenchView) -> str | None:
    judge = _param(request, "judge", required=False)
    if judge is not None and judge not in view.judges:
        raise UserError(f"unknown judge {judge!r} (judges: {', '.join(view.judges) or 'none'})")
    return judge


def build_app(
    config: BrowseConfig, view: BenchView | None = None, signature: tuple | None = None
) -> web.Application:
    """The aiohttp application (routes, security headers); ``serve`` runs it with the view it loaded."""
    state = BrowseState(config, view, signature)
    assets = {name: static_text(name) for name in STATIC_FILES}
    page = static_text("index.html")

    @web.middleware
    async def guard(request: web.Request, handler) -> web.StreamResponse:
        # DNS rebinding: a page on another origin that resolves its name to 127.0.0.1 must not read our data.
        # Only checked on a loopback bind: binding elsewhere is the user's deliberate choice to share.
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if config.host in LOOPBACK and host not in LOOPBACK:
            return web.Response(status=421, text="unexpected Host header\n")
        try:
            response = await handler(request)
        except UserError as e:
            response = _json({"error": str(e)}, status=400)
        except web.HTTPException as e:
            response = e
        response.headers.update(SECURITY_HEADERS)
        return response

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in assets:
            raise web.HTTPNotFound()
        return web.Response(text=assets[name], content_type=STATIC_FILES[name], charset="utf-8")

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def meta(request: web.Request) -> web.Response:
        return _json((await state.view()).meta())

    async def question(request: web.Request) -> web.Response:
        view = await state.view()
        return _json(view.question_view(_int_param(request, "id"), _judge_param(request, view)))

    async def single(request: web.Request) -> web.Response:
        view = await state.view()
        qid, model = _int_param(request, "id"), _param(request, "model")
        return _json(view.single_view(qid, model, _judge_param(request, view)))  # type: ignore[arg-type]

    async def pair(request: web.Request) -> web.Response:
        view = await state.view()
        qid = _int_param(request, "id")
        a, b = _param(request, "model_a"), _param(request, "model_b")
        return _json(view.pair_view(qid, a, b, _judge_param(request, view)))  # type: ignore[arg-type]

    async def board(request: web.Request) -> web.Response:
        view = await state.view()
        judge = _judge_param(request, view) or _param(request, "judge")
        mode = _param(request, "mode", required=False) or "single"
        Mode.parse(mode)
        baseline = _param(request, "baseline", required=False) if mode == Mode.PAIRWISE_BASELINE else None
        if mode == Mode.PAIRWISE_BASELINE and baseline is None:
            raise UserError("mode pairwise-baseline needs a baseline")
        data = await state.cached(
            ("board", judge, mode, baseline),
            lambda v: leaderboard(v, judge, mode, baseline, config.n_bootstrap, config.seed, config.control),  # type: ignore[arg-type]
        )
        return _json(data)

    async def radar_image(request: web.Request) -> web.Response:
        view = await state.view()
        judge = _judge_param(request, view) or _param(request, "judge")
        png = await state.cached(
            ("radar", judge), lambda v: radar(v, judge, config.seed)  # type: ignore[arg-type]
        )
        return web.Response(body=png, content_type="image/png")

    app = web.Application(middlewares=[guard])
    app.add_routes(
        [
            web.get("/", index),
            web.get("/static/{name}", static),
            web.get("/favicon.ico", favicon),
            web.get("/api/meta", meta),
            web.get("/api/question", question),
            web.get("/api/single", single),
            web.get("/api/pair", pair),
            web.get("/api/leaderboard", board),
            web.get("/radar.png", radar_image),
        ]
    )
    return app


def serve(config: BrowseConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Load the files (so a bad file fails before the server starts), then serve until interrupted."""
    refuse_protocol(protocol_for(config.layout), config.layout, "browse")  # MT-Bench-101: show's tables only
    signature = files_signature(config.layout)  # before reading: a write during the load shows up later
    view = load_bench_view(config.layout, config.judge_model)
    if config.host not in LOOPBACK:
        log.warning("listening on %s: anyone who can reach this machine can read these answers", config.host)
    if not view.judges:
        log.warning("no judgment files in %s yet: showing answers only", config.layout.judgment_dir)
    asyncio.run(_serve(build_app(config, view, signature), config, on_ready))


async def _serve(app: web.Application, config: BrowseConfig, on_ready: Callable[[str], None] | None) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(
            f"{{host}}/{{port}}: cannot listen on {config.host}:{config.port}: {e.strerror or e}"
        ) from None
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
    port = sockets[0].getsockname()[1] if sockets else config.port
    host = f"[{config.host}]" if ":" in config.host else config.host
    if on_ready is not None:
        on_ready(f"http://{host}:{port}/")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
