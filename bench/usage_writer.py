"""What recording usage costs: the request path's ``record_usage()`` and the writer's throughput.

    python bench/usage_writer.py                 # SQLite (a temporary file)
    python bench/usage_writer.py --db postgres   # PostgreSQL database ai_ledger_bench on
                                                 # 127.0.0.1:5432 (created if missing)

Measures, in one process and one event loop, as under an ASGI server:

1. ``record_usage(event)`` on the loop, per call (the event already built, as the API builds it
   anyway): mean / p50 / p99 / max in microseconds, with the writer idle and then busy;
2. the writer's throughput: N events queued at once, then ``await flush_usage()``; rows/s, for
   a few batch sizes; row count and token sums are checked against what was queued;
3. event-loop lag while the writer works: a 1 ms ticker's overshoot (p99 / max), compared with
   the same ticker on an idle loop. The writer runs on its own thread, so what shows here is
   its share of the GIL, not blocking I/O;
4. the same lag under steady traffic: events recorded at a fixed rate (rate 0 = idle loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = "postgres://postgres@127.0.0.1:5432/ai_ledger_bench"


def setup(db: str) -> str:
    if db == "postgres":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            if not c.execute(
                "SELECT 1 FROM pg_database WHERE datname='ai_ledger_bench'"
            ).fetchone():
                c.execute("CREATE DATABASE ai_ledger_bench")
        os.environ["DATABASE_URL"] = PG_URL
    else:
        path = Path(tempfile.mkdtemp()) / "ledger.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    return f"{connection.vendor} {connection.settings_dict['NAME']}"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": statistics.fmean(ordered),
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[int(len(ordered) * 0.99)],
        "max": ordered[-1],
    }


def _idle(lags: list[float]) -> list[float]:
    s = percentiles(lags)
    return [s["p50"], s["p99"], s["max"]]


def make_events(n: int, tag: str):
    from ai.providers.base import Usage
    from ai.usage.events import UsageEvent

    return [
        UsageEvent(
            request_id=f"{tag}-{i}",
            endpoint="chat",
            status="ok",
            provider="openai",
            model="gpt-4o-mini",
            complexity="simple",
            usage=Usage.of(100 + i % 50, 20 + i % 7, cached=i % 10),
            latency_ms=123.4,
            ttft_ms=12.3,
            streamed=bool(i % 2),
        )
        for i in range(n)
    ]


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)


async def loop_lag(seconds: float) -> list[float]:
    lags: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(ticker(stop, lags))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return lags


async def bench(
    n_calls: int, n_rows: int, batch_sizes: list[int], rates: list[int], seconds: float
) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.db.models import Sum

    from ai.models import UsageRecord
    from ai.usage import flush_usage, record_usage
    from ai.usage.price_data import apply_prices, read_price_file

    await sync_to_async(apply_prices)(read_price_file())
    await UsageRecord.objects.all().adelete()

    # 1. the request path: with the writer idle (the calls alone), then busy draining them
    record_usage(make_events(1, "warm")[0])  # starts the writer thread (once per process)
    await flush_usage()
    for label, interval in (("writer idle", 600_000), ("writer busy draining", 200)):
        settings.AI_USAGE_FLUSH_INTERVAL_MS = interval
        events = make_events(n_calls, f"call-{interval}")
        timings = []
        for e in events:
            t0 = time.perf_counter_ns()
            record_usage(e)
            timings.append((time.perf_counter_ns() - t0) / 1000)
        await flush_usage(timeout=600)
        s = percentiles(timings)
        print(
            f"record_usage() x {n_calls}, {label:>21} (us): mean {s['mean']:6.2f}  "
            f"p50 {s['p50']:5.2f}  p99 {s['p99']:6.2f}  max {s['max']:8.1f}"
        )
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 200
    built = time.perf_counter()
    make_events(10_000, "x")
    per_event = (time.perf_counter() - built) * 100  # 10,000 events: seconds x 100 = us each
    print(f"(building a UsageEvent, the caller's side: {per_event:.2f} us)")

    # 2 + 3. throughput and loop lag
    idle = percentiles(await loop_lag(1.0))
    print("\nwriter throughput (N events queued at once, then await flush_usage()):")
    print(
        f"  {'batch':>6} {'rows':>8} {'seconds':>8} {'rows/s':>9}  loop lag p99/max ms (idle "
        f"{idle['p99']:.2f}/{idle['max']:.2f})"
    )
    for size in batch_sizes:
        settings.AI_USAGE_BATCH_SIZE = size
        await UsageRecord.objects.all().adelete()
        events = make_events(n_rows, f"b{size}")
        lags: list[float] = []
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop, lags))
        t0 = time.perf_counter()
        for e in events:
            record_usage(e)
        await flush_usage(timeout=600)
        elapsed = time.perf_counter() - t0
        stop.set()
        await tick
        count = await UsageRecord.objects.acount()
        sums = await UsageRecord.objects.aaggregate(
            p=Sum("prompt_tokens"), c=Sum("completion_tokens")
        )
        expected = (
            sum(e.usage.prompt_tokens for e in events),
            sum(e.usage.completion_tokens for e in events),
        )
        ok = count == n_rows and (sums["p"], sums["c"]) == expected
        lag = percentiles(lags or [0.0])
        print(
            f"  {size:>6} {count:>8} {elapsed:>8.2f} {n_rows / elapsed:>9.0f}  "
            f"{lag['p99']:.2f}/{lag['max']:.2f}   rows+token sums {'OK' if ok else 'MISMATCH'}"
        )
    await UsageRecord.objects.all().adelete()

    # 4. steady traffic: events recorded at a fixed rate, as requests finish, for a few seconds
    settings.AI_USAGE_BATCH_SIZE = 500
    print("\nsteady recording (events/s recorded from the loop; writer on its own thread):")
    print(f"  {'rate/s':>7} {'rows':>7}  loop lag p50/p99/max ms")
    for rate in rates:
        events = make_events(int(rate * seconds), f"r{rate}")
        if not events:  # rate 0: the idle loop, for comparison
            print(
                f"  {0:>7} {0:>7}  " + "/".join(f"{v:.2f}" for v in _idle(await loop_lag(seconds)))
            )
            continue
        lags: list[float] = []
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop, lags))
        start = time.perf_counter()
        for i, e in enumerate(events):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            record_usage(e)
        await flush_usage(timeout=600)
        stop.set()
        await tick
        lag = percentiles(lags or [0.0])
        print(f"  {rate:>7} {len(events):>7}  {lag['p50']:.2f}/{lag['p99']:.2f}/{lag['max']:.2f}")
    await UsageRecord.objects.all().adelete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, nargs="*", default=[100, 500, 2000])
    parser.add_argument("--rates", type=int, nargs="*", default=[0, 500, 2000, 5000])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"database: {setup(args.db)}; python {sys.version.split()[0]}")
    asyncio.run(bench(args.calls, args.rows, args.batch, args.rates, args.seconds))


if __name__ == "__main__":
    main()
