"""What authenticating one request costs: a gateway API key against a JWT, in one process.

    python -m bench.key_auth                      # local-memory cache (the default)
    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.key_auth

Calls ``ApiKeyAuthentication.aauthenticate`` and ``GatewayJWTAuthentication.aauthenticate`` on
the same request object ``-n`` times each (after a warm-up: the steady state, user or key
cached in the process, markers read from the cache on every call), one at a time and ``-c`` at
once, and prints CPU (and wall) microseconds per call. The tests' settings on a temporary
SQLite file (the cache misses go to the database in the thread pool, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


async def _per_call(auth, request, n: int, concurrency: int) -> tuple[float, float]:
    async def one(count: int) -> None:
        for _ in range(count):
            assert await auth.aauthenticate(request) is not None

    await one(200)  # warm: cached in the process
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n // concurrency) for _ in range(concurrency)))
    calls = n // concurrency * concurrency
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


async def measure(n: int, concurrency: int) -> list[tuple[str, int, float, float]]:
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import RequestFactory
    from rest_framework.request import Request
    from rest_framework_simplejwt.tokens import AccessToken

    from ai.api.authentication import GatewayJWTAuthentication
    from ai.api.key_auth import ApiKeyAuthentication
    from ai.models import ApiKey

    def prepare() -> tuple[str, str]:
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench")
        return str(AccessToken.for_user(user)), ApiKey.issue(user, "bench")[1]

    token, key = await sync_to_async(prepare)()
    factory = RequestFactory()
    rows = []
    for name, auth, header in (
        ("jwt", GatewayJWTAuthentication(), f"Bearer {token}"),
        ("key", ApiKeyAuthentication(), f"Bearer {key}"),
    ):
        request = Request(factory.get("/", HTTP_AUTHORIZATION=header))
        for c in (1, concurrency):
            cpu, wall = await _per_call(auth, request, n, c)
            rows.append((name, c, cpu, wall))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.key_auth", description=__doc__)
    p.add_argument("-n", type=int, default=20000, help="calls per measurement")
    p.add_argument("-c", type=int, default=50, help="calls in flight (second measurement)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ai-key-auth-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django

        django.setup()
        rows = asyncio.run(measure(args.n, args.c))
    cache = "Redis" if os.environ.get("REDIS_URL") else "local memory"
    print(f"auth per call, cache: {cache}")
    for name, c, cpu, wall in rows:
        print(f"{name} c={c:<3} {cpu:7.1f} us CPU  {wall:7.1f} us wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
