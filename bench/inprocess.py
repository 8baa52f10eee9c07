"""The gateway's CPU per request without a server: ``python -m bench.inprocess openai``.

Drives the example project's ASGI application directly (the production wiring: ``ai.asgi``
with the project's ``AI_API_MIDDLEWARE``, its startup, JWT auth, routing, the real provider and
SDK, the usage ledger) with ``-c`` requests in flight, against the fake upstream in another
process on another core, and prints the process's CPU time per request. No server and no load
generator share the measurement, so it is the steadiest number for comparing two versions of
the hot path; what uvicorn adds is in ``bench/run.py``'s numbers. ``--profile FILE`` writes
cProfile stats.

    python -m bench.inprocess openai -n 5000           # against a fake it starts on core 1
    python -m bench.inprocess anthropic --stream --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import scenarios as sc  # noqa: E402

MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5-20250929",
    "gemini": "gemini-2.5-flash",
    "offline": "offline-echo",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    p.add_argument("provider", choices=sorted(MODELS))
    p.add_argument("--stream", action="store_true", help="streamed requests (20 deltas)")
    p.add_argument("-n", type=int, default=3000, help="measured requests (after 200 warm-up)")
    p.add_argument("-c", type=int, default=50, help="requests in flight")
    p.add_argument("--upstream", help="a running fake upstream (default: start one)")
    p.add_argument("--database-url", help="default: a temporary SQLite file")
    p.add_argument("--profile", type=Path, help="write cProfile stats of the measured part")
    p.add_argument(
        "--delta-interval",
        type=float,
        default=0.0,
        metavar="S",
        help="streamed, the fake pacing the deltas S seconds apart (a held stream's path: one "
        "read and one write per delta); implies --stream",
    )
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="switch callgrind's instrumentation on for the measured part only (run under "
        "valgrind --tool=callgrind --instr-atstart=no; bench/instructions.py does)",
    )
    p.add_argument(
        "--settings",
        default="gateway_project.settings",
        help="settings module (bench.settings_full_stack: no AI_API_MIDDLEWARE; "
        "bench.settings_bare: AI_API_MIDDLEWARE = [])",
    )
    args = p.parse_args(argv)
    if args.delta_interval:
        args.stream = True
    return args


def callgrind(on: bool) -> None:
    """Instrumentation on or off in the valgrind this process runs under (callgrind_control
    waits until callgrind has taken the command)."""
    import subprocess

    state = "on" if on else "off"
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def configure(upstream: str, database_url: str, settings_module: str) -> None:
    os.environ.update(
        sc.gateway_env(upstream=upstream, database_url=database_url, transport="aiohttp")
    )
    os.environ.pop("AI_HTTP_TRANSPORT")  # the app's default
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module


async def request(app, body: bytes, token: str, stream: bool) -> int:
    """One request through the ASGI app; returns the response's status."""
    path = "/api/v1/app/ai/completions"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + token.encode()),
            (b"accept", b"text/event-stream" if stream else b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    done = asyncio.Event()
    delivered = False
    status = 0

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return status


class Lifespan:
    """The app's ASGI lifespan, as a server runs it: startup before, shutdown after."""

    def __init__(self, app) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()

    async def _event(self, name: str) -> None:
        await self.inbox.put({"type": f"lifespan.{name}"})
        message = await self.outbox.get()
        if not message["type"].endswith(".complete"):
            raise RuntimeError(f"lifespan {name} failed: {message}")

    async def startup(self) -> None:
        self.task = asyncio.create_task(
            self.app({"type": "lifespan"}, self.inbox.get, self.outbox.put)
        )
        await self._event("startup")

    async def shutdown(self) -> None:
        await self._event("shutdown")
        await self.task


async def measure(args: argparse.Namespace) -> dict:
    import orjson
    from asgiref.sync import sync_to_async

    from bench.gateway_setup import main as setup
    from gateway_project.asgi import application

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the bench user's token
        await sync_to_async(setup)()  # migrate, the bench user
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user = await get_user_model().objects.aget(username="bench")
    token = str(AccessToken.for_user(user))
    prompt = sc.PROMPT
    if args.delta_interval:
        prompt += f" [[fake:chunk_delay={args.delta_interval:g}]]"
    body = orjson.dumps(
        {
            "messages": [{"role": "user", "content": prompt}],
            "provider": args.provider,
            "model": MODELS[args.provider],
            "stream": args.stream,
        }
    )
    life = Lifespan(application)
    await life.startup()
    statuses: list[int] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            statuses.append(await request(application, body, token, args.stream))

    await asyncio.gather(*(worker(200 // args.c + 1) for _ in range(args.c)))
    statuses.clear()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    if args.callgrind:
        await asyncio.to_thread(callgrind, True)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(args.n // args.c) for _ in range(args.c)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if args.callgrind:
        await asyncio.to_thread(callgrind, False)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    await life.shutdown()
    n = len(statuses)
    return {
        "provider": args.provider,
        "stream": args.stream,
        "requests": n,
        "errors": sum(1 for s in statuses if s != 200),
        "cpu_us_per_request": round(cpu / n * 1e6),
        "requests_per_s": round(n / wall),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ai-inprocess-") as tmp:
        fake = None
        upstream = args.upstream
        if not upstream:
            from bench.servers import start_fake

            fake, port = start_fake(ROOT, Path(tmp), "1" if (os.cpu_count() or 1) > 1 else None, 20)
            upstream = f"http://127.0.0.1:{port}"
        try:
            configure(
                upstream, args.database_url or f"sqlite:///{tmp}/inprocess.sqlite3", args.settings
            )
            if (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {0})
            import uvloop

            result = uvloop.run(measure(args))
        finally:
            if fake is not None:
                fake.stop()
    print(
        f"{result['provider']}{' stream' if result['stream'] else ''}: "
        f"{result['cpu_us_per_request']} us CPU per request, {result['requests_per_s']} req/s, "
        f"{result['requests']} requests, {result['errors']} errors"
    )
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
