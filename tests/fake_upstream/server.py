"""The fake upstream's HTTP server: an aiohttp app on 127.0.0.1 with one wire module per vendor.

Each vendor module (``openai.py``, ``anthropic.py``, ``gemini.py`` beside this file) exposes
``add_routes(app, server)`` and speaks that vendor's exact JSON / SSE framing and error bodies.
This module holds what they share: scenario state, request capture, SSE writing, dropping a
connection, and running the server in a thread (tests) or in the foreground (demos, benchmarks).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiohttp import web

from tests.fake_upstream.scenario import Scenario

WIRES = ("openai", "anthropic", "gemini")
#: The API key the fake treats as invalid (any other non-empty key is accepted).
BAD_KEY = "bad-key"


@dataclass(frozen=True, slots=True)
class Captured:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


class FakeUpstream:
    """The fake upstream. ``start_in_thread()`` for tests; ``await start()`` inside a loop."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunks: int = 5,
        chunk_delay: float = 0.0,
        latency: float = 0.0,
        capture: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.defaults = Scenario(chunks=chunks, chunk_delay=chunk_delay, delay=latency)
        self.capture = capture
        self.requests: list[Captured] = []
        #: Anthropic's prompt cache: the prefixes written so far (``anthropic_cache``).
        self.prompt_cache: set[bytes] = set()
        self._fail_counts: dict[str, int] = defaultdict(int)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- addresses the SDKs are pointed at ---------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        return self.url

    # -- what wire modules call ----------------------------------------------------------------

    def scenario(self, texts: list[str]) -> Scenario:
        return Scenario.parse(texts, self.defaults)

    def record(self, request: web.Request, body: Any) -> None:
        if self.capture:
            self.requests.append(
                Captured(
                    request.method, request.path, request.query_string, dict(request.headers), body
                )
            )

    def failing_status(self, scenario: Scenario) -> int | None:
        """The error status this request must get, honouring ``fail_times`` per ``id``."""
        if scenario.fail_times:
            key = scenario.id or "default"
            self._fail_counts[key] += 1
            if self._fail_counts[key] > scenario.fail_times:
                return None
            return scenario.status or 503
        return scenario.status

    def reset(self) -> None:
        self.requests.clear()
        self.prompt_cache.clear()
        self._fail_counts.clear()

    # -- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for name in WIRES:
            try:
                module = importlib.import_module(f"tests.fake_upstream.{name}")
            except ModuleNotFoundError as exc:  # a vendor module not written yet
                if exc.name != f"tests.fake_upstream.{name}":
                    raise
                continue
            module.add_routes(app, self)
        return app

    async def start(self) -> FakeUpstream:
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> FakeUpstream:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.stop())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None


# -- helpers for wire modules ------------------------------------------------------------------


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def read_json(request: web.Request) -> Any:
    return orjson.loads(await request.read())


async def start_sse(request: web.Request, headers: dict[str, str] | None = None):
    response = web.StreamResponse(status=200, headers=headers)
    response.content_type = "text/event-stream"
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def drop(request: web.Request) -> web.StreamResponse:
    """Cut the connection: mid-body for a started stream (the chunked body never terminates),
    or before any response at all. Returns a response object aiohttp can discard.

    It first lets what was sent reach the reader (50 ms): an HTTP client that learns of the cut
    while deltas still wait in its buffer (aiohttp raises at once) would drop them, and a test
    that counts the deltas before a drop would depend on the machine's load."""
    await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.abort()
    raise _Dropped


class _Dropped(web.HTTPException):
    # aiohttp stops handling the request; the transport is already gone.
    status_code = 499
    empty_body = True


def retry_headers(scenario: Scenario) -> dict[str, str]:
    headers: dict[str, str] = {}
    if scenario.retry_after is not None:
        headers["retry-after"] = f"{scenario.retry_after:g}"
    if scenario.retry_after_ms is not None:
        headers["retry-after-ms"] = str(scenario.retry_after_ms)
    return headers


def with_scenario(scenario: Scenario, **changes: Any) -> Scenario:
    return replace(scenario, **changes)
