"""What the exact response cache costs on the request path: ``python -m bench.response_cache``.

``bench.inprocess``'s measurement (the example project's ASGI app in this process, JWT auth,
routing, the ledger; CPU time per request) with non-streaming ``temperature: 0`` requests, in
passes in one process (a warm-up before each), taken in turn ``--rounds`` times; the median
pass of each is printed:

- ``off``: ``AI_CACHE_TTL = 0``, every prompt different;
- ``miss``: ``AI_CACHE_TTL = 60``, every prompt different (a lookup and a store each);
- ``hit``: ``AI_CACHE_TTL = 60``, one prompt (answered from the cache after the first).

The cache is the project's (local memory unless ``REDIS_URL`` is set). ``offline`` (the default)
needs no upstream; a real provider is driven against a fake upstream started on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import inprocess  # noqa: E402
from bench import scenarios as sc  # noqa: E402


async def measure(args: argparse.Namespace) -> list[dict]:
    import orjson
    from asgiref.sync import sync_to_async
    from django.test import override_settings

    from bench.gateway_setup import main as setup
    from gateway_project.asgi import application

    with contextlib.redirect_stdout(io.StringIO()):
        await sync_to_async(setup)()
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user = await get_user_model().objects.aget(username="bench")
    token = str(AccessToken.for_user(user))
    counter = itertools.count()

    def body(same: bool) -> bytes:
        text = sc.PROMPT if same else f"{sc.PROMPT} #{next(counter)}"
        return orjson.dumps(
            {
                "messages": [{"role": "user", "content": text}],
                "provider": args.provider,
                "model": inprocess.MODELS[args.provider],
                "temperature": 0,
            }
        )

    life = inprocess.Lifespan(application)
    await life.startup()
    runs: dict[str, list[dict]] = {}
    modes = (("off", 0, False), ("miss", 60, False), ("hit", 60, True))
    for mode, ttl, same in modes * args.rounds:
        statuses: list[int] = []

        async def worker(count: int, same: bool = same, statuses: list[int] = statuses) -> None:
            for _ in range(count):
                statuses.append(await inprocess.request(application, body(same), token, False))

        with override_settings(AI_CACHE_TTL=ttl):
            await asyncio.gather(*(worker(200 // args.c + 1) for _ in range(args.c)))
            statuses.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker(args.n // args.c) for _ in range(args.c)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = len(statuses)
        runs.setdefault(mode, []).append(
            {
                "mode": mode,
                "requests": n,
                "errors": sum(1 for s in statuses if s != 200),
                "cpu_us_per_request": round(cpu / n * 1e6),
                "requests_per_s": round(n / wall),
            }
        )
    await life.shutdown()
    results = []
    for mode, _, _ in modes:
        passes = sorted(runs[mode], key=lambda r: r["cpu_us_per_request"])
        results.append({**passes[len(passes) // 2], "passes": len(passes)})
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.response_cache", description=__doc__)
    p.add_argument("provider", nargs="?", default="offline", choices=sorted(inprocess.MODELS))
    p.add_argument("-n", type=int, default=3000, help="measured requests per pass")
    p.add_argument("-c", type=int, default=50, help="requests in flight")
    p.add_argument("--rounds", type=int, default=3, help="passes per mode, taken in turn")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ai-cache-bench-") as tmp:
        fake, upstream = None, "http://127.0.0.1:9"
        if args.provider != "offline":
            from bench.servers import start_fake

            core = "1" if (os.cpu_count() or 1) > 1 else None
            fake, port = start_fake(ROOT, Path(tmp), core, 20)
            upstream = f"http://127.0.0.1:{port}"
        try:
            inprocess.configure(
                upstream, f"sqlite:///{tmp}/cache.sqlite3", "gateway_project.settings"
            )
            if (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {0})
            import uvloop

            results = uvloop.run(measure(args))
        finally:
            if fake is not None:
                fake.stop()
    for r in results:
        print(
            f"{args.provider} cache {r['mode']}: {r['cpu_us_per_request']} us CPU per request, "
            f"{r['requests_per_s']} req/s, {r['requests']} requests, {r['errors']} errors "
            f"(median of {r['passes']})"
        )
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
