"""What the garbage collector costs the gateway, and why: ``python -m bench.gc_probe openai``.

Drives the example project's ASGI application in-process, as ``bench/inprocess.py`` does (lean
handler, lifespan startup, JWT, routing, the real SDK against the fake upstream on the other
core, the usage ledger), with ``gc.callbacks`` timing every collection, and prints per
generation how many collections ran and how long they took, full (generation 2) collections per
10,000 requests, the CPU per request and the latency distribution. The database is prepared in a
separate process, so migrations do not inflate the long-lived heap the collector walks.

    python -m bench.gc_probe openai -n 10000              # AI_GC_FREEZE off (the default here)
    python -m bench.gc_probe openai -n 10000 --freeze     # AI_GC_FREEZE=true, for comparison
    python -m bench.gc_probe openai -n 3000 -c 1          # latency at one client; slow requests
                                                          # attributed to GC / ledger writes
    python -m bench.gc_probe openai -n 2000 --explain     # what is promoted to generation 2,
                                                          # and the cyclic garbage, by type/site

Why it matters (CPython 3.11): a full collection walks every tracked object (about a million
once Django, DRF and three SDKs are imported), and one starts when the objects promoted into
generation 2 since the last one exceed 25% of those already there. Every object still alive at
a generation-1 collection is promoted, even if reference counting frees it a millisecond later:
so promotions come from what requests keep alive across collections (in-flight requests, queued
usage events, caches), and cyclic garbage makes the young collections do real work.

``--explain`` adds, at some cost in speed: the promoted objects by type and by the line that
allocated them (``tracemalloc``), and the objects only the collector could free (reference
cycles, kept with ``gc.DEBUG_SAVEALL`` for the census), by type and allocation site.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.inprocess import MODELS, Lifespan, request  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gc_probe", description=__doc__)
    p.add_argument("provider", choices=sorted(MODELS))
    p.add_argument("--stream", action="store_true", help="streamed requests")
    p.add_argument("-n", type=int, default=10_000, help="measured requests (after warm-up)")
    p.add_argument("-c", type=int, default=50, help="requests in flight")
    p.add_argument("--warmup", type=int, default=500, help="requests before measuring")
    p.add_argument("--freeze", action="store_true", help="AI_GC_FREEZE=true (default: false)")
    p.add_argument("--explain", action="store_true", help="census of promotions and cycles")
    p.add_argument("--top", type=int, default=12, help="rows per census table")
    p.add_argument("--upstream", help="a running fake upstream (default: start one)")
    p.add_argument("--database-url", help="default: a temporary SQLite file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p.parse_args(argv)


# -- collection timing --------------------------------------------------------------------------


class GCRecorder:
    """A ``gc.callbacks`` hook: per generation, the number of collections, their CPU time (of
    the thread that collected) and what they freed; with ``promotions``, how many objects each
    generation-1 collection moved into generation 2 (and, with ``census``, which)."""

    def __init__(self, promotions: bool = False, census: bool = False) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self.full_pauses: list[float] = []
        self.promoted = 0
        self.promotions = promotions or census
        self.census = census
        self.promoted_types: collections.Counter[str] = collections.Counter()
        self.promoted_sites: collections.Counter[str] = collections.Counter()
        self.active = False
        self._start = 0.0
        self._cpu_start = 0.0
        self._young = 0
        #: perf_counter() intervals of full collections (for latency attribution).
        self.full_windows: list[tuple[float, float]] = []
        self.young_windows: list[tuple[float, float]] = []

    def __call__(self, phase: str, info: dict) -> None:
        if not self.active:
            return
        generation = info["generation"]
        if phase == "start":
            if self.promotions and generation == 1:
                self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            self._start = time.perf_counter()
            self._cpu_start = time.thread_time()
            return
        end = time.perf_counter()
        elapsed = time.thread_time() - self._cpu_start  # CPU: wall time lies on a busy machine
        self.count[generation] += 1
        self.seconds[generation] += elapsed
        self.collected[generation] += info["collected"]
        if generation == 2:
            self.full_pauses.append(elapsed)
            self.full_windows.append((self._start, end))
        else:
            self.young_windows.append((self._start, end))
        if self.promotions and generation == 1:
            survivors = max(0, self._young - info["collected"])
            self.promoted += survivors
            if self.census and survivors:
                # Survivors are appended to generation 2's list: they are its last entries.
                for obj in gc.get_objects(2)[-survivors:]:
                    self.promoted_types[_type_name(obj)] += 1
                    self.promoted_sites[_site(obj)] += 1

    def install(self) -> None:
        gc.callbacks.append(self)

    def remove(self) -> None:
        gc.callbacks.remove(self)


def _type_name(obj: object) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _site(obj: object) -> str:
    """Where ``obj`` was allocated: the innermost frame in the app (``ai/``), else the innermost
    frame, as ``path:line`` (needs tracemalloc started)."""
    import tracemalloc

    tb = tracemalloc.get_object_traceback(obj)
    if tb is None:
        return "?"
    frames = list(tb)  # oldest first
    pick = next((f for f in reversed(frames) if "/ai/" in f.filename), frames[-1])
    return f"{_short(pick.filename)}:{pick.lineno}"


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    try:
        return str(Path(filename).relative_to(ROOT))
    except ValueError:
        return filename


class LedgerWrites:
    """The perf_counter() intervals in which the usage writer thread wrote a batch: wraps
    ``ai.usage.recorder.write_events`` in this process only (the writer looks it up per batch)."""

    def __init__(self) -> None:
        self.windows: list[tuple[float, float, int]] = []

    def install(self) -> None:
        from ai.usage import recorder

        original = recorder.write_events

        def timed(events):
            start = time.perf_counter()
            try:
                return original(events)
            finally:
                self.windows.append((start, time.perf_counter(), len(events)))

        recorder.write_events = timed


# -- the run -----------------------------------------------------------------------------------


def prepare(args: argparse.Namespace, upstream: str, tmp: Path) -> str:
    """Environment for gateway_project (every provider at the fake), the database migrated in a
    child process; returns the bench user's JWT."""
    from bench import scenarios as sc

    database_url = args.database_url or f"sqlite:///{tmp}/gc_probe.sqlite3"
    os.environ.update(sc.gateway_env(upstream=upstream, database_url=database_url, transport=""))
    os.environ.pop("AI_HTTP_TRANSPORT")  # the app's default
    os.environ["AI_GC_FREEZE"] = "true" if args.freeze else "false"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.gateway_setup"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"database setup failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["token"]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _overlaps(start: float, end: float, windows: list) -> bool:
    return any(w[0] < end and w[1] > start for w in windows)


async def measure(args: argparse.Namespace, token: str) -> dict:
    import orjson

    from gateway_project.asgi import application

    body = orjson.dumps(
        {
            "messages": [{"role": "user", "content": "Say hello to the benchmark"}],
            "provider": args.provider,
            "model": MODELS[args.provider],
            "stream": args.stream,
        }
    )
    life = Lifespan(application)
    await life.startup()
    ledger = LedgerWrites()
    ledger.install()
    statuses: list[int] = []
    timings: list[tuple[float, float]] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            statuses.append(await request(application, body, token, args.stream))
            timings.append((start, time.perf_counter()))

    await asyncio.gather(*(worker(args.warmup // args.c + 1) for _ in range(args.c)))
    await asyncio.sleep(0.5)  # the ledger's batch written
    statuses.clear()
    timings.clear()
    ledger.windows.clear()
    gc.collect()
    long_lived = len(gc.get_objects(2))
    frozen = gc.get_freeze_count()
    types_before = collections.Counter(_type_name(o) for o in gc.get_objects(2))

    recorder = GCRecorder(promotions=True, census=args.explain)
    recorder.install()
    if args.explain:
        import tracemalloc

        tracemalloc.start(12)
    recorder.active = True
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(args.n // args.c) for _ in range(args.c)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    recorder.active = False

    cycles: dict = {}
    if args.explain:
        cycles = await census_of_cycles(application, body, token, args)
    await asyncio.sleep(0.5)
    gc.collect()
    grown = collections.Counter(_type_name(o) for o in gc.get_objects(2))
    grown.subtract(types_before)
    recorder.remove()
    await life.shutdown()

    n = len(statuses)
    latencies = [(end - start) * 1000 for start, end in timings]
    result = {
        "provider": args.provider,
        "stream": args.stream,
        "concurrency": args.c,
        "gc_freeze": args.freeze,
        "requests": n,
        "errors": sum(1 for s in statuses if s != 200),
        "cpu_us_per_request": round(cpu / n * 1e6),
        "requests_per_s": round(n / wall),
        "gc_thresholds": list(gc.get_threshold()),
        "long_lived_objects": long_lived,
        "frozen_objects": frozen,
        "collections": recorder.count,
        "gc_ms": [round(s * 1000, 1) for s in recorder.seconds],
        "collected": recorder.collected,
        "full_per_10k": round(recorder.count[2] * 10_000 / n, 1),
        "full_pause_ms": {
            "mean": round(sum(recorder.full_pauses) / len(recorder.full_pauses) * 1000, 1)
            if recorder.full_pauses
            else 0.0,
            "max": round(max(recorder.full_pauses, default=0.0) * 1000, 1),
        },
        "gc_cpu_share": round(sum(recorder.seconds) / cpu, 3) if cpu else 0.0,
        "gc_us_per_request": round(sum(recorder.seconds) / n * 1e6),
        "promoted_per_request": round(recorder.promoted / n, 1),
        "cyclic_garbage_per_request": round(sum(recorder.collected) / n, 2),
        "ledger_batches": len(ledger.windows),
        "ledger_ms": round(sum(e - s for s, e, _ in ledger.windows) * 1000, 1),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
            "p999": round(_percentile(latencies, 0.999), 2),
            "max": round(max(latencies, default=0.0), 2),
        },
        "gen2_growth": [[t, c] for t, c in grown.most_common(args.top) if c > 0],
    }
    result["slow_requests"] = attribute_slow(timings, latencies, recorder, ledger)
    if args.explain:
        result["promoted_types"] = recorder.promoted_types.most_common(args.top)
        result["promoted_sites"] = recorder.promoted_sites.most_common(args.top)
        result["cycles"] = cycles
    return result


def attribute_slow(timings, latencies, recorder: GCRecorder, ledger: LedgerWrites) -> dict:
    """Of the requests slower than the p99, how many overlapped a full collection, a young one,
    a usage-ledger batch write, or none of them."""
    cut = _percentile(latencies, 0.99)
    slow = [t for t, ms in zip(timings, latencies, strict=True) if ms >= cut]
    causes = collections.Counter()
    for start, end in slow:
        if _overlaps(start, end, recorder.full_windows):
            causes["full GC"] += 1
        elif _overlaps(start, end, ledger.windows):
            causes["ledger write"] += 1
        elif _overlaps(start, end, recorder.young_windows):
            causes["young GC"] += 1
        else:
            causes["none of these"] += 1
    return {"threshold_ms": round(cut, 2), "count": len(slow), **causes}


async def census_of_cycles(application, body: bytes, token: str, args) -> dict:
    """Requests with ``gc.DEBUG_SAVEALL``: what only the collector frees, by type and site."""
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    count = min(1000, max(args.n // 5, 100))
    try:
        for _ in range(count):
            await request(application, body, token, args.stream)
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    types = collections.Counter(_type_name(o) for o in garbage)
    sites = collections.Counter(_site(o) for o in garbage)
    del garbage
    return {
        "requests": count,
        "objects_per_request": round(sum(types.values()) / count, 1),
        "types": types.most_common(args.top),
        "sites": sites.most_common(args.top),
    }


def report(r: dict) -> str:
    kind = f"{r['provider']}{' stream' if r['stream'] else ''}"
    lat = r["latency_ms"]
    slow = r["slow_requests"]
    lines = [
        f"{kind}, c={r['concurrency']}, gc.freeze {'on' if r['gc_freeze'] else 'off'}: "
        f"{r['requests']} requests, {r['errors']} errors, {r['cpu_us_per_request']} us CPU per "
        f"request, {r['requests_per_s']} req/s",
        f"  long-lived (gen 2) objects at start: {r['long_lived_objects']:,} "
        f"(frozen: {r['frozen_objects']:,}); thresholds {r['gc_thresholds']}",
        f"  collections gen0/gen1/gen2: {'/'.join(map(str, r['collections']))}, "
        f"CPU {'/'.join(map(str, r['gc_ms']))} ms; full per 10k requests: "
        f"{r['full_per_10k']}, pause mean {r['full_pause_ms']['mean']} ms, "
        f"max {r['full_pause_ms']['max']} ms",
        f"  freed by collections gen0/gen1/gen2: {'/'.join(map(str, r['collected']))}",
        f"  GC: {r['gc_us_per_request']} us per request ({r['gc_cpu_share']:.1%} of CPU); "
        f"promoted to gen 2 per request: {r['promoted_per_request']}; cyclic garbage per "
        f"request: {r['cyclic_garbage_per_request']}",
        f"  ledger: {r['ledger_batches']} batch writes, {r['ledger_ms']} ms in total",
        f"  latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, p99.9 {lat['p999']} ms, "
        f"max {lat['max']} ms",
        f"  requests >= p99 ({slow['count']}): "
        + ", ".join(f"{k} {v}" for k, v in slow.items() if k not in ("threshold_ms", "count")),
    ]
    if r["gen2_growth"]:
        lines.append("  grown in gen 2 over the run (still alive after it):")
        lines += [f"    {c:8,d}  {t}" for t, c in r["gen2_growth"]]
    if "promoted_types" in r:
        lines.append("  promoted to gen 2, by type:")
        lines += [f"    {c:8,d}  {t}" for t, c in r["promoted_types"]]
        lines.append("  promoted to gen 2, by allocation site:")
        lines += [f"    {c:8,d}  {t}" for t, c in r["promoted_sites"]]
        cyc = r["cycles"]
        lines.append(
            f"  cyclic garbage ({cyc['requests']} requests, DEBUG_SAVEALL): "
            f"{cyc['objects_per_request']} objects per request; by type:"
        )
        lines += [f"    {c:8,d}  {t}" for t, c in cyc["types"]]
        lines.append("  cyclic garbage by allocation site:")
        lines += [f"    {c:8,d}  {t}" for t, c in cyc["sites"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ai-gc-probe-") as tmp:
        fake = None
        upstream = args.upstream
        if not upstream:
            from bench.servers import start_fake

            cpus = "1" if (os.cpu_count() or 1) > 1 else None
            fake, port = start_fake(ROOT, Path(tmp), cpus, 20)
            upstream = f"http://127.0.0.1:{port}"
        try:
            token = prepare(args, upstream, Path(tmp))
            if (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {0})
            import uvloop

            result = uvloop.run(measure(args, token))
        finally:
            if fake is not None:
                fake.stop()
    print(json.dumps(result) if args.json else report(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
