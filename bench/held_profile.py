"""Where a held (paced) stream's CPU and memory go: ``python -m bench.held_profile``.

Serves the example project (``gateway_project.asgi``, its default settings) with uvicorn *in
this process* (uvloop, httptools, one worker, as ``run.sh``), pinned to CPU 0, and drives it
from ``bench.loadgen``'s burst mode in a child process on CPU 1 against the fake upstream (also
on CPU 1): N paced streams opened over a ramp, each held to its end, then the same number
unpaced. Three passes over the same gateway, each after a warm-up:

* ``cpu``: no instrumentation. CPU time of this process per stream, paced and unpaced; RSS
  when all streams are open minus RSS before, per open stream; and the objects that each
  open stream keeps alive (``gc.get_objects()`` counted by type, at the peak minus before).
* ``profile``: cProfile over the paced streams (garbage collector off: the ``cpu`` pass
  measures it): self time grouped by layer (server, Django's
  handler, SSE response, relay, provider, SDK/HTTP client, event loop, ledger ...), the
  functions with the most self time, and calls per stream of every function called at least
  once per stream (what runs per event rather than once per stream).
* ``memory``: tracemalloc at the peak minus before, by layer (the file that allocated) and by
  allocation site, per open stream.

Prints a report and writes it as JSON (``--out``). The profile distorts absolute times (about
2x); compare layers within one run, and take CPU per stream from the ``cpu`` pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import env_info, report  # noqa: E402
from bench import scenarios as sc  # noqa: E402
from bench.held_streams import APPS, gateway_env, prompt  # noqa: E402
from bench.loadgen import Target  # noqa: E402
from bench.procs import free_port, pinned, raise_nofile  # noqa: E402
from bench.servers import BACKLOG, start_fake  # noqa: E402

#: (layer, path fragment) in order: the first fragment found in a function's file names it.
LAYERS = (
    ("server: uvicorn", "/uvicorn/"),
    ("server: httptools", "httptools"),
    ("django: ASGI handler", "/django/core/handlers/"),
    ("django: ASGI handler", "/ai/asgi.py"),
    ("django: ASGI handler", "/ai/_compat/django.py"),
    ("django: other", "/django/"),
    ("asgiref", "/asgiref/"),
    ("DRF", "/rest_framework"),
    ("ai: SSE frames/response", "/ai/api/sse.py"),
    ("ai: SSE frames/response", "/ai/api/streaming.py"),
    ("ai: API views/auth", "/ai/api/"),
    ("ai: gateway relay", "/ai/services/gateway.py"),
    ("ai: router", "/ai/services/"),
    ("ai: provider", "/ai/providers/"),
    ("ai: SDK guards", "/ai/_compat/"),
    ("ai: usage ledger", "/ai/usage/"),
    ("ai: other", "/ai/"),
    ("SDK: openai", "/openai/"),
    ("HTTP client: httpx2", "/httpx2/"),
    ("HTTP client: httpcore", "/httpcore"),
    ("HTTP client: aiohttp", "/aiohttp/"),
    ("HTTP client: anyio", "/anyio/"),
    ("SDK: other vendors", "/anthropic/"),
    ("SDK: other vendors", "/google/"),
    ("pydantic", "/pydantic"),
    ("database", "/sqlite3/"),
    ("database", "/psycopg"),
    ("event loop: asyncio", "/asyncio/"),
    ("event loop: uvloop", "uvloop"),
    ("logging", "/logging/"),
    ("stdlib: other", "/lib/python3"),
)


def layer_of(filename: str) -> str:
    if filename == "~":
        return "builtins (C)"
    if "site-packages/" in filename:
        package = filename.split("site-packages/", 1)[1]
        for layer, fragment in LAYERS:
            if fragment.strip("/") and ("/" + package).startswith(fragment):
                return layer
        return "other: " + package.split("/", 1)[0].removesuffix(".py")
    for layer, fragment in LAYERS:
        if fragment in filename:
            return layer
    return "other"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.held_profile", description=__doc__)
    p.add_argument("-n", "--streams", type=int, default=400, help="paced streams per pass")
    p.add_argument("--deltas", type=int, default=15)
    p.add_argument("--interval", type=float, default=0.2, help="seconds between paced deltas")
    p.add_argument("--ramp", type=float, default=1.0)
    p.add_argument(
        "--prompt-kb",
        type=float,
        default=0,
        help="make each request's prompt about this many KB (a real chat's history; default: "
        "one short sentence)",
    )
    p.add_argument(
        "--passes", default="cpu,profile,memory", help="comma list of cpu, profile, memory"
    )
    p.add_argument(
        "--app",
        choices=sorted(APPS),
        default="gateway",
        help="the gateway, or a floor of bench/held_floor.py (the same streams without it)",
    )
    p.add_argument(
        "--experiment",
        action="append",
        default=[],
        help="a what-if of bench/held_experiments.py, patched in this process (repeatable)",
    )
    p.add_argument(
        "--ab",
        action="append",
        default=[],
        metavar="NAME[+NAME]",
        help="alternate the cpu pass between the baseline and this what-if (repeatable)",
    )
    p.add_argument("--rounds", type=int, default=3, help="--ab rounds (medians reported)")
    p.add_argument("--top", type=int, default=30, help="rows in each function table")
    p.add_argument("--pstats", type=Path, help="also dump the raw cProfile stats here")
    p.add_argument("--out", type=Path, help="JSON path (default bench/results/held-profile-*)")
    return p.parse_args(argv)


class Inflight:
    """Wraps the ASGI app: how many HTTP requests are in it now, and the most at once."""

    def __init__(self, app) -> None:
        self.app = app
        self.now = 0
        self.max = 0
        self.reached: asyncio.Event | None = None
        self.want = 0

    def expect(self, n: int) -> asyncio.Event:
        self.want = n
        self.reached = asyncio.Event()
        return self.reached

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.now += 1
        self.max = max(self.max, self.now)
        if self.reached is not None and self.now >= self.want:
            self.reached.set()
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class GCTime:
    """Collections per generation and the CPU time they took, while active (gc.callbacks)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.process_time()
        else:
            gen = info["generation"]
            self.count[gen] += 1
            self.seconds[gen] += time.process_time() - self._t0

    def __enter__(self) -> GCTime:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def per_stream(self, n: int) -> dict:
        return {
            "collections": dict(zip(("gen0", "gen1", "gen2"), self.count, strict=True)),
            "ms_per_stream": {
                g: round(1000 * s / max(n, 1), 3)
                for g, s in zip(("gen0", "gen1", "gen2"), self.seconds, strict=True)
            },
        }


#: Types counted by what they run (their function's qualified name), not only by type.
NAMED = ("coroutine", "async_generator", "method", "generator", "Task", "TimerHandle", "Handle")


def _name(o: object) -> str:
    kind = type(o).__qualname__
    if kind in ("coroutine", "async_generator", "generator"):
        return f"{kind} {o.__qualname__}"  # type: ignore[attr-defined]
    if kind == "method":
        return f"method {getattr(o.__func__, '__qualname__', '?')}"  # type: ignore[attr-defined]
    if kind == "Task":
        coro = o.get_coro()  # type: ignore[attr-defined]
        return f"Task {getattr(coro, '__qualname__', '?')}"
    if kind in ("TimerHandle", "Handle"):
        cb = getattr(o, "_callback", None)
        return f"{kind} {getattr(cb, '__qualname__', '?')}"
    return kind


def type_counts() -> Counter:
    counts: Counter = Counter()
    for o in gc.get_objects():
        kind = type(o).__qualname__
        counts[kind] += 1
        if kind in NAMED:
            counts[_name(o)] += 1
    return counts


class Profiler:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.log = report.Log()
        self.two_cpus = (os.cpu_count() or 1) >= 2

    # -- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        a = self.args
        self.fake, port = start_fake(ROOT, self.tmp, "1" if self.two_cpus else None, a.deltas)
        self.upstream = f"http://127.0.0.1:{port}"
        if a.app == "gateway":
            env = gateway_env(self.upstream, f"sqlite:///{self.tmp / 'profile.sqlite3'}", None)
            self.token, _ = env_info.setup_gateway(ROOT, {**os.environ, **env})
        else:
            env = {"DJANGO_SETTINGS_MODULE": "bench.held_floor", "FLOOR_UPSTREAM": self.upstream}
        os.environ.update(env)
        if self.two_cpus:
            os.sched_setaffinity(0, {0})

    def target(self, base: str, interval: float) -> Target:
        text = prompt(self.args.deltas, interval)
        if self.args.prompt_kb:
            words = "the user and the assistant talked about many things before this question "
            text = words * int(self.args.prompt_kb * 1024 / len(words)) + text
        if self.args.app != "gateway":
            body = sc.PROMPT_BODY.replace(sc.PROMPT.encode(), text.encode())
            headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
            return Target(f"{base}/relay", body, headers, "openai", self.args.deltas)
        return sc.gateway(
            "openai", base, self.token, stream=True, chunks=self.args.deltas, text=text
        )

    async def start_burst(self, t: Target, n: int, ramp: float) -> asyncio.subprocess.Process:
        cmd = [sys.executable, "-m", "bench.loadgen", "--mode", "burst", "--url", t.url,
               "--body", t.body.decode(), "--format", t.fmt, "-c", str(n), "--ramp", str(ramp),
               "--expect-tokens", str(t.expect_tokens)]  # fmt: skip
        for name, value in t.headers.items():
            cmd += ["--header", f"{name}: {value}"]
        cmd = pinned(cmd, "1" if self.two_cpus else None)
        return await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )

    @staticmethod
    async def finish_burst(proc: asyncio.subprocess.Process) -> dict:
        import orjson

        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"loadgen failed: {err[-2000:]!r}")
        return orjson.loads(out)

    async def burst(self, t: Target, n: int, ramp: float) -> dict:
        return await self.finish_burst(await self.start_burst(t, n, ramp))

    # -- passes -----------------------------------------------------------------------------

    async def run(self) -> dict:
        import importlib

        import uvicorn

        module, _, name = APPS[self.args.app].partition(":")
        application = getattr(importlib.import_module(module), name)
        from bench import held_experiments

        app = Inflight(application)
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop="none",
            http="httptools",
            lifespan="on" if self.args.app == "gateway" else "auto",
            access_log=False,
            log_level="warning",
            backlog=BACKLOG,
            timeout_keep_alive=120,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        a = self.args
        paced, unpaced = self.target(base, a.interval), self.target(base, 0.0)
        out: dict = {}
        try:
            self.log.say("warm-up: 200 unpaced + 50 paced streams")
            await self.burst(unpaced, 200, 1.0)
            await self.burst(paced, 50, 0.2)
            held_experiments.apply(a.experiment)
            gc.collect()
            if a.ab:
                out["ab"] = await self.alternate(app, paced, unpaced)
                return out
            for name in a.passes.split(","):
                name = name.strip()
                self.log.say(
                    f"pass {name}: {a.streams} streams, {a.deltas} deltas "
                    f"{a.interval * 1000:g} ms apart, opened over {a.ramp:g} s"
                )
                out[name] = await getattr(self, f"pass_{name}")(app, paced, unpaced)
        finally:
            server.should_exit = True
            await serving
        return out

    async def alternate(self, app: Inflight, paced: Target, unpaced: Target) -> dict:
        """``--rounds`` rounds of the cpu pass, each over the baseline then every ``--ab``
        configuration (``a+b`` applies both), each undone after its pass: the same warm
        process, so a change of the machine's load hits every configuration alike."""
        from statistics import median

        from bench import held_experiments

        configs = ["baseline", *self.args.ab]
        runs: dict[str, list[dict]] = {c: [] for c in configs}
        for round_ in range(self.args.rounds):
            for config in configs:
                names = [] if config == "baseline" else config.split("+")
                undo = held_experiments.apply(names)
                try:
                    res = await self.pass_cpu(app, paced, unpaced)
                finally:
                    undo()
                runs[config].append(res)
                self.log.say(
                    f"round {round_ + 1} {config}: paced {res['cpu_ms_per_stream_paced']} ms, "
                    f"unpaced {res['cpu_ms_per_stream_unpaced']} ms, "
                    f"objects/open stream {res.get('gc_objects_per_open_stream')}"
                )
        out = {}
        for config, results in runs.items():

            def med(key: str, results=results) -> float | None:
                values = [r[key] for r in results if r.get(key) is not None]
                return round(median(values), 3) if values else None

            out[config] = {
                "paced_ms": med("cpu_ms_per_stream_paced"),
                "unpaced_ms": med("cpu_ms_per_stream_unpaced"),
                # RSS only grows in a fresh process (freed memory is reused): the first
                # configuration's first round is the only honest RSS; objects always count.
                "rss_kb_per_open_stream_first": results[0].get("rss_kb_per_open_stream"),
                "gc_objects_per_open_stream": med("gc_objects_per_open_stream"),
                "paced_runs": [r["cpu_ms_per_stream_paced"] for r in results],
                "errors": sum(r["paced"]["errors"] + r["unpaced"]["errors"] for r in results),
            }
        return out

    async def _held(self, app: Inflight, t: Target, at_peak, on_start=None) -> tuple[dict, object]:
        """Run a paced burst (``on_start()`` once its process runs); call ``at_peak()`` once
        every stream is open plus 1.5 delta intervals (each has relayed deltas by then); return
        the loadgen's result and at_peak's."""
        a = self.args
        reached = app.expect(a.streams)
        proc = await self.start_burst(t, a.streams, a.ramp)
        if on_start is not None:
            on_start()
        load = asyncio.ensure_future(self.finish_burst(proc))
        waiter = asyncio.ensure_future(reached.wait())
        peak = None
        # All open, or the ramp plus two intervals (a slowed-down process never gets them all).
        await asyncio.wait(
            [load, waiter], timeout=a.ramp + 2 * a.interval, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if not load.done():
            # Each stream has relayed some deltas by then, and none has ended yet.
            await asyncio.sleep(min(a.interval * 1.5, a.interval * a.deltas / 2))
            peak = at_peak()
        res = await load
        app.reached = None
        return res, peak

    async def pass_cpu(self, app: Inflight, paced: Target, unpaced: Target) -> dict:
        a = self.args
        gc.collect()
        rss0, types0 = rss_kb(), type_counts()
        app.max = 0
        cpu0 = [0.0]
        sys0 = [0.0]

        def started() -> None:
            cpu0[0] = time.process_time()
            sys0[0] = os.times().system

        def at_peak():
            t0 = time.process_time()
            rss, types = rss_kb(), type_counts()
            cpu0[0] += time.process_time() - t0  # not the gateway's work
            return rss, types, app.now

        with GCTime() as gc_paced:
            res, peak = await self._held(app, paced, at_peak, on_start=started)
        cpu_paced = time.process_time() - cpu0[0]
        sys_paced = os.times().system - sys0[0]
        proc = await self.start_burst(unpaced, a.streams, a.streams / 200)
        started()
        with GCTime() as gc_unpaced:
            res_u = await self.finish_burst(proc)
        cpu_unpaced = time.process_time() - cpu0[0]
        sys_unpaced = os.times().system - sys0[0]
        out = {
            "gc_paced": gc_paced.per_stream(res["completed"]),
            "gc_unpaced": gc_unpaced.per_stream(res_u["completed"]),
            "paced": _brief(res),
            "unpaced": _brief(res_u),
            "cpu_ms_per_stream_paced": round(1000 * cpu_paced / max(res["completed"], 1), 3),
            "cpu_ms_per_stream_unpaced": round(1000 * cpu_unpaced / max(res_u["completed"], 1), 3),
            # Of which in the kernel (system time: socket reads and writes, epoll).
            "sys_ms_per_stream_paced": round(1000 * sys_paced / max(res["completed"], 1), 3),
            "sys_ms_per_stream_unpaced": round(1000 * sys_unpaced / max(res_u["completed"], 1), 3),
        }
        if peak is not None and peak[2]:
            rss1, types1, open_now = peak
            out["open_at_peak"] = open_now
            out["rss_kb_per_open_stream"] = round((rss1 - rss0) / open_now, 1)
            growth = types1 - types0
            out["gc_objects_per_open_stream"] = round(
                sum(v for k, v in growth.items() if " " not in k) / open_now, 1
            )
            out["objects_per_open_stream"] = {
                k: round(v / open_now, 2)
                for k, v in growth.most_common(120)
                if v >= open_now / 2 and " " not in k
            }
            out["named_objects_per_open_stream"] = {
                k: round(v / open_now, 2)
                for k, v in growth.most_common(400)
                if v >= open_now / 2 and " " in k
            }
        return out

    async def pass_profile(self, app: Inflight, paced: Target, unpaced: Target) -> dict:
        """cProfile over the paced streams, then over as many unpaced ones: each by layer and
        function, and per stream what paced costs more than unpaced (per layer, per function)."""
        a = self.args
        # The collector off while profiling: a collection's CPU lands on whichever function
        # allocated at that moment, which would blur every table. The cpu pass measures it.
        gc.collect()
        gc.disable()
        profiler = cProfile.Profile()
        try:
            res, _ = await self._held(app, paced, lambda: None, on_start=profiler.enable)
        finally:
            profiler.disable()
            gc.enable()
        if a.pstats:
            profiler.dump_stats(a.pstats)
        out = {"loadgen": _brief(res)} | _profile_tables(profiler, res["completed"], a.top)
        gc.collect()
        proc = await self.start_burst(unpaced, a.streams, a.streams / 200)
        profiler_u = cProfile.Profile()
        gc.disable()
        profiler_u.enable()
        try:
            res_u = await self.finish_burst(proc)
        finally:
            profiler_u.disable()
            gc.enable()
        unpaced_tables = _profile_tables(profiler_u, res_u["completed"], a.top)
        out["unpaced"] = {"loadgen": _brief(res_u)} | {
            k: unpaced_tables[k]
            for k in ("profiled_cpu_ms_per_stream", "self_ms_per_stream_by_layer")
        }
        layers = out["self_ms_per_stream_by_layer"]
        layers_u = unpaced_tables["self_ms_per_stream_by_layer"]
        out["paced_minus_unpaced_by_layer"] = dict(
            sorted(
                ((k, round(layers.get(k, 0) - layers_u.get(k, 0), 3)) for k in layers | layers_u),
                key=lambda kv: -kv[1],
            )
        )
        fns_u = {f["function"]: f for f in unpaced_tables["all"]}
        diff = []
        for f in out.pop("all"):
            u = fns_u.get(f["function"], {"self_us_per_stream": 0.0, "calls_per_stream": 0.0})
            diff.append(
                {
                    "function": f["function"],
                    "layer": f["layer"],
                    "self_us_more": round(f["self_us_per_stream"] - u["self_us_per_stream"], 1),
                    "calls_paced": f["calls_per_stream"],
                    "calls_unpaced": u["calls_per_stream"],
                }
            )
        diff.sort(key=lambda d: -d["self_us_more"])
        out["paced_minus_unpaced_top"] = diff[: a.top]
        return out

    async def pass_memory(self, app: Inflight, paced: Target, unpaced: Target) -> dict:
        gc.collect()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()

        def at_peak():
            return tracemalloc.take_snapshot(), app.now

        res, peak = await self._held(app, paced, at_peak)
        tracemalloc.stop()
        out: dict = {"loadgen": _brief(res)}
        if peak is None or not peak[1]:
            return out
        snap, open_now = peak
        out["open_at_peak"] = open_now
        layers: Counter = Counter()
        for stat in snap.compare_to(before, "filename"):
            layers[layer_of(stat.traceback[0].filename)] += stat.size_diff
        out["kb_per_open_stream_by_layer"] = {
            k: round(v / 1024 / open_now, 2) for k, v in layers.most_common() if v > 0
        }
        out["kb_per_open_stream_traced"] = round(sum(layers.values()) / 1024 / open_now, 2)
        sites = []
        for stat in snap.compare_to(before, "lineno")[: self.args.top]:
            frame = stat.traceback[0]
            sites.append(
                {
                    "site": f"{_short(frame.filename)}:{frame.lineno}",
                    "bytes_per_stream": round(stat.size_diff / open_now),
                    "blocks_per_stream": round(stat.count_diff / open_now, 2),
                }
            )
        out["top_sites"] = sites
        return out


def _profile_tables(profiler: cProfile.Profile, completed: int, top: int) -> dict:
    n = max(completed, 1)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = 0.0
    by_layer: Counter = Counter()
    functions = []
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        total += tt
        by_layer[layer_of(filename)] += tt
        functions.append((filename, line, name, nc, tt, ct))
    functions.sort(key=lambda f: -f[4])
    # Called at least once per stream: work per event rather than per stream shows here.
    per_event = sorted((f for f in functions if f[3] >= n), key=lambda f: (-f[3], -f[4]))
    return {
        "profiled_cpu_ms_per_stream": round(1000 * total / n, 3),
        "self_ms_per_stream_by_layer": {
            k: round(1000 * v / n, 3) for k, v in by_layer.most_common()
        },
        "top_self": [_fn(f, n) for f in functions[:top]],
        "calls_per_stream": [_fn(f, n) for f in per_event[: top * 3]],
        "all": [_fn(f, n) for f in functions],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _fn(f: tuple, n: int) -> dict:
    filename, line, name, nc, tt, ct = f
    where = name if filename == "~" else f"{_short(filename)}:{line}({name})"
    return {
        "function": where,
        "layer": layer_of(filename),
        "calls_per_stream": round(nc / n, 2),
        "self_us_per_stream": round(1e6 * tt / n, 1),
        "cum_us_per_stream": round(1e6 * ct / n, 1),
    }


def _brief(res: dict) -> dict:
    return {k: res.get(k) for k in ("streams", "completed", "errors", "error_kinds", "max_open",
                                    "wall_s")}  # fmt: skip


def render(out: dict) -> str:
    lines = []
    ab = out.get("ab")
    if ab:
        lines.append(
            "configuration: CPU per stream paced / unpaced (medians), gc-tracked objects per "
            "open stream"
        )
        for config, r in ab.items():
            lines.append(
                f"  {config:32s} {r['paced_ms']} / {r['unpaced_ms']} ms  "
                f"{r['gc_objects_per_open_stream']} objects  (paced runs {r['paced_runs']}, "
                f"{r['errors']} errors)"
            )
    cpu = out.get("cpu")
    if cpu:
        lines.append(
            f"CPU per stream: paced {cpu['cpu_ms_per_stream_paced']} ms, unpaced "
            f"{cpu['cpu_ms_per_stream_unpaced']} ms (in the kernel: "
            f"{cpu['sys_ms_per_stream_paced']} / {cpu['sys_ms_per_stream_unpaced']} ms); "
            f"loadgen paced {cpu['paced']}"
        )
        for kind in ("paced", "unpaced"):
            g = cpu[f"gc_{kind}"]
            lines.append(
                f"  gc during {kind}: {g['collections']}, ms per stream {g['ms_per_stream']}"
            )
        if "rss_kb_per_open_stream" in cpu:
            lines.append(
                f"RSS per open stream: {cpu['rss_kb_per_open_stream']} KB "
                f"({cpu['open_at_peak']} open)"
            )
            lines.append("objects kept alive per open stream:")
            lines += [f"  {v:8.2f}  {k}" for k, v in cpu["objects_per_open_stream"].items()]
            lines.append("of which, by what they run:")
            named = cpu.get("named_objects_per_open_stream", {})
            lines += [f"  {v:8.2f}  {k}" for k, v in named.items()]
    prof = out.get("profile")
    if prof:
        lines.append(
            f"\ncProfile: {prof['profiled_cpu_ms_per_stream']} ms per paced stream (profiled)"
        )
        lines.append("self time per stream by layer (us):")
        lines += [f"  {1000 * v:8.0f}  {k}" for k, v in prof["self_ms_per_stream_by_layer"].items()]
        u = prof["unpaced"]
        lines.append(
            f"unpaced: {u['profiled_cpu_ms_per_stream']} ms per stream (profiled); paced minus "
            "unpaced per stream by layer (us):"
        )
        lines += [
            f"  {1000 * v:8.0f}  {k}" for k, v in prof["paced_minus_unpaced_by_layer"].items()
        ]
        lines.append("paced minus unpaced, by function (self us per stream; calls paced/unpaced):")
        lines += [
            f"  {d['self_us_more']:8.1f} {d['calls_paced']:7.2f}/{d['calls_unpaced']:<7.2f} "
            f"{d['function']}"
            for d in prof["paced_minus_unpaced_top"]
        ]
        lines.append("top self time (us per stream, calls per stream):")
        lines += [
            f"  {f['self_us_per_stream']:8.1f} {f['calls_per_stream']:7.2f}  {f['function']}"
            for f in prof["top_self"]
        ]
        lines.append("functions called at least once per stream (calls, self us, cum us):")
        lines += [
            f"  {f['calls_per_stream']:7.2f} {f['self_us_per_stream']:8.1f} "
            f"{f['cum_us_per_stream']:8.1f}  {f['function']}"
            for f in prof["calls_per_stream"]
        ]
    mem = out.get("memory")
    if mem and "kb_per_open_stream_by_layer" in mem:
        lines.append(
            f"\ntracemalloc: {mem['kb_per_open_stream_traced']} KB per open stream "
            f"({mem['open_at_peak']} open), by layer:"
        )
        lines += [f"  {v:8.2f} KB  {k}" for k, v in mem["kb_per_open_stream_by_layer"].items()]
        lines.append("top allocation sites (bytes, blocks per open stream):")
        lines += [
            f"  {s['bytes_per_stream']:8d} {s['blocks_per_stream']:6.2f}  {s['site']}"
            for s in mem["top_sites"]
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.out or ROOT / "bench" / "results" / f"held-profile-{stamp}.json"
    with tempfile.TemporaryDirectory(prefix="ai-held-profile-") as tmp:
        prof = Profiler(args, Path(tmp))
        prof.setup()
        try:
            import uvloop

            out = uvloop.run(prof.run())
        finally:
            prof.fake.stop()
    out["args"] = {k: str(v) for k, v in vars(args).items()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(report.dumps(out))
    print(render(out))
    print(f"\nJSON: {out_path}")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
