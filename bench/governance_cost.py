"""What rate limits and budgets alone cost per request: ``python -m bench.governance_cost``.

Runs ``ai.governance.admit`` and ``settle`` (what the gateway does around each upstream call,
with ``bench.settings_everything_on``: rpm, tpm, daily and monthly budgets) for ``-n`` requests
with ``-c`` in flight, on one core, and prints the process's CPU time per request and the
latency of admit + settle (p50/p99). With ``--redis URL`` the counts live in that Redis (one
pipelined Lua call each way); without, in the process's memory. The whole request path is
``bench.inprocess`` with ``--settings bench.settings_everything_on``; this isolates the part
the limits add, which the machine's noise hides there.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.governance_cost", description=__doc__)
    p.add_argument("-n", type=int, default=20_000, help="measured requests (after 1000 warm-up)")
    p.add_argument("-c", type=int, default=50, help="requests in flight")
    p.add_argument("--redis", help="a Redis URL (default: the local-memory cache)")
    return p.parse_args(argv)


async def measure(args: argparse.Namespace) -> dict:
    from asgiref.sync import sync_to_async

    from ai import governance
    from ai.providers.base import Message, Usage
    from ai.services.gateway import LLMCall, Outcome
    from ai.services.routes import ModelRoute
    from bench.gateway_setup import main as setup
    from bench.scenarios import PROMPT

    with contextlib.redirect_stdout(io.StringIO()):
        await sync_to_async(setup)()
    from django.contrib.auth import get_user_model

    user = await get_user_model().objects.aget(username="bench")
    call = LLMCall(messages=(Message("user", PROMPT),), max_tokens=200)
    targets = [ModelRoute("openai", "gpt-4o")]
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        outcome = Outcome(
            request_id="bench", endpoint="bench", user_id=user.pk, complexity="", started=0.0
        )
        await governance.admit(call, outcome, targets)
        outcome.usage = Usage.of(20, 50)
        outcome.cost = Decimal("0.00055")
        await governance.settle(outcome)
        latencies.append(time.perf_counter() - started)

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(worker(1000 // args.c + 1) for _ in range(args.c)))
    latencies.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(args.n // args.c) for _ in range(args.c)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latencies.sort()
    n = len(latencies)
    return {
        "store": "redis" if governance.shared() else "memory",
        "requests": n,
        "cpu_us_per_request": round(cpu / n * 1e6, 1),
        "p50_ms": round(latencies[n // 2] * 1000, 3),
        "p99_ms": round(latencies[int(n * 0.99)] * 1000, 3),
        "per_s": round(n / wall),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench import scenarios as sc

    with tempfile.TemporaryDirectory(prefix="ai-governance-") as tmp:
        os.environ.update(
            sc.gateway_env(
                upstream="http://127.0.0.1:9",
                database_url=f"sqlite:///{tmp}/governance.sqlite3",
                transport="aiohttp",
            )
        )
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_everything_on"
        if args.redis:
            os.environ["REDIS_URL"] = args.redis
        else:
            os.environ.pop("REDIS_URL", None)
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {0})
        import django

        django.setup()
        import uvloop

        result = uvloop.run(measure(args))
    print(
        f"{result['store']}: {result['cpu_us_per_request']} us CPU per request (admit + "
        f"settle), p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms at {args.c} in flight, "
        f"{result['per_s']}/s, {result['requests']} requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
