"""Where a gateway worker's memory goes: ``python -m bench.memory`` (a few seconds).

Starts the fake upstream, prepares a temporary database (in a separate process, so migrations
are not counted), then runs a fresh worker process that does what a uvicorn worker of the example
project does and reads its RSS after each stage:

1. the interpreter with uvicorn and uvloop imported (what the server costs before the app);
2. ``django.setup()`` of ``gateway_project.settings`` (apps, models, admin registrations);
3. importing ``gateway_project.asgi`` (the URLconf-independent part of the app; providers are
   preloaded here, so the SDKs are imported here);
4. the ASGI lifespan startup (URLconf and every view, the JWT backend);
5. one request per provider through the ASGI app, plain then streamed (SDK clients and their
   connection pools built, code paths used for the first time);
6. idle: a second later (the usage writer has flushed) after ``gc.collect()``.

A second worker process repeats the same run with an import probe and prints what each package's
imports added to RSS ("self" cost: a module's own execution, not the modules it imported). RSS is
what the kernel reports (``/proc/self/statm``), so shared-library pages count as they do in
``bench/run.py``'s numbers.

    python -m bench.memory                        # all three providers, SQLite, a fake upstream
    python -m bench.memory --variant lazy         # providers not preloaded at import
    python -m bench.memory --json                 # machine-readable, one JSON document

``--variant`` measures a candidate change without editing the app, by patching it in the worker
process only: ``lazy`` turns off the provider preload (the SDK of a provider is then imported by
its first request, whose latency is printed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROVIDERS = ("openai", "anthropic", "gemini")
VARIANTS = ("baseline", "lazy")
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5-20250929",
    "gemini": "gemini-2.5-flash",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    p.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    p.add_argument("--variant", choices=VARIANTS, default="baseline")
    p.add_argument("--upstream", help="a running fake upstream (default: start one)")
    p.add_argument("--database-url", help="default: a temporary SQLite file")
    p.add_argument("--no-breakdown", action="store_true", help="skip the per-package run")
    p.add_argument("--top", type=int, default=15, help="packages shown in the breakdown")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--worker", choices=("plain", "breakdown"), help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# -- the measured worker process ------------------------------------------------------------------
# Only the standard library is imported here before the first reading, and nothing from bench/
# (which imports aiohttp, orjson, ...), so every megabyte is the server's or the app's.

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


class ImportProbe:
    """Adds up, per module, the RSS its own execution added (its imports subtracted). Patches
    the standard file loaders of this process only (the worker is a throwaway process)."""

    def __init__(self) -> None:
        self.cost: dict[str, int] = {}
        self.stage_of: dict[str, str] = {}
        self.stage = ""
        self._stack: list[list[int]] = []

    def install(self) -> None:
        import importlib.machinery as machinery

        for cls in (machinery.SourceFileLoader, machinery.SourcelessFileLoader):
            self._wrap(cls, "exec_module")
        self._wrap(machinery.ExtensionFileLoader, "create_module")

    def _wrap(self, cls: type, method: str) -> None:
        original = getattr(cls, method)
        probe = self

        def measured(loader, *args):
            name = getattr(loader, "name", "?")
            probe._stack.append([rss_bytes(), 0])
            try:
                return original(loader, *args)
            finally:
                start, children = probe._stack.pop()
                total = rss_bytes() - start
                probe.cost[name] = probe.cost.get(name, 0) + total - children
                probe.stage_of.setdefault(name, probe.stage)
                if probe._stack:
                    probe._stack[-1][1] += total

        setattr(cls, method, measured)


def _scope(path: str, token: str, stream: bool) -> dict:
    return {
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


async def _request(app, token: str, provider: str, stream: bool) -> int:
    import asyncio

    body = json.dumps(
        {
            "messages": [{"role": "user", "content": "Say hello to the benchmark"}],
            "provider": provider,
            "model": MODELS[provider],
            "stream": stream,
        }
    ).encode()
    done = asyncio.Event()
    sent = False
    status = 0

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body"):
            done.set()

    await app(_scope("/api/v1/app/ai/completions", token, stream), receive, send)
    return status


def _apply_variant(variant: str) -> None:
    if variant == "lazy":
        from ai.services import factory

        factory.preload_providers = lambda: []  # ai.asgi imports it at call time


def worker(args: argparse.Namespace) -> dict:
    """The measured process: its stages (and the import breakdown), for ``--worker-out``."""
    import gc
    import time

    probe = None
    if args.worker == "breakdown":
        probe = ImportProbe()
        probe.install()
    stages: list[tuple[str, int]] = []
    first_ms: dict[str, float] = {}

    def stage(name: str) -> None:
        stages.append((name, rss_bytes()))
        if probe is not None:
            probe.stage = name  # imports from here on are counted in the next stage

    import asyncio

    import uvicorn  # noqa: F401  (what the server itself costs)
    import uvloop

    stage("interpreter + uvicorn + uvloop")
    import django

    django.setup()
    stage("django.setup()")
    _apply_variant(args.variant)
    from gateway_project.asgi import application

    stage("import gateway_project.asgi")

    async def run() -> None:
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        life = asyncio.create_task(application({"type": "lifespan"}, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        if (await outbox.get())["type"] != "lifespan.startup.complete":
            raise RuntimeError("lifespan startup failed")
        gc.collect()
        stage("lifespan startup")
        token = os.environ["BENCH_TOKEN"]
        for stream in (False, True):
            for provider in args.providers:
                t0 = time.perf_counter()
                status = await _request(application, token, provider, stream)
                ms = (time.perf_counter() - t0) * 1000
                if status != 200:
                    raise RuntimeError(f"{provider} stream={stream}: HTTP {status}")
                if not stream:
                    first_ms[provider] = round(ms, 1)
                stage(f"first {'streamed' if stream else 'plain'} {provider} request")
        await asyncio.sleep(1.0)
        gc.collect()
        stage("idle (1 s later, gc.collect)")
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await life

    uvloop.run(run())
    out: dict = {
        "variant": args.variant,
        "stages": [{"stage": n, "rss_mb": round(b / 2**20, 1)} for n, b in stages],
        "first_request_ms": first_ms,
    }
    if probe is not None:
        out["imports"] = {name: cost for name, cost in probe.cost.items() if cost}
        # stage_of holds the last stage read before the import: name the stage it fell in.
        following = {a: b for (a, _), (b, _) in itertools.pairwise(stages)}
        following[""] = stages[0][0]
        out["import_stage"] = {name: following[probe.stage_of[name]] for name in out["imports"]}
    return out


# -- the parent: fake upstream, database, worker processes, report --------------------------------


def group(name: str, depth: int) -> str:
    parts = name.split(".")
    if parts[0] == "google":  # a namespace package: google.genai, google.auth, ...
        depth += 1
    return ".".join(parts[:depth])


def breakdown(imports: dict[str, int], depth: int, top: int) -> list[tuple[str, float, int]]:
    """(package, MB, modules) of the ``top`` most expensive packages at ``depth``."""
    mb: dict[str, int] = {}
    count: dict[str, int] = {}
    for name, cost in imports.items():
        key = group(name, depth)
        mb[key] = mb.get(key, 0) + cost
        count[key] = count.get(key, 0) + 1
    rows = sorted(mb.items(), key=lambda kv: -kv[1])[:top]
    return [(k, round(v / 2**20, 1), count[k]) for k, v in rows]


def run_worker(kind: str, args: argparse.Namespace, env: dict[str, str], tmp: Path) -> dict:
    result = tmp / f"worker-{kind}.json"
    cmd = [sys.executable, "-m", "bench.memory", "--worker", kind, "--variant", args.variant]
    cmd += ["--providers", *args.providers, "--worker-out", str(result)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    if out.returncode != 0 or not result.exists():
        raise RuntimeError(f"worker ({kind}) failed:\n{out.stderr[-3000:]}")
    return json.loads(result.read_text())


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    from bench import scenarios as sc

    fake = None
    upstream = args.upstream
    if not upstream:
        from bench.servers import start_fake

        fake, port = start_fake(ROOT, tmp, None, 5)
        upstream = f"http://127.0.0.1:{port}"
    try:
        database_url = args.database_url or f"sqlite:///{tmp}/memory.sqlite3"
        env = {
            **os.environ,
            **sc.gateway_env(upstream=upstream, database_url=database_url, transport="aiohttp"),
        }
        env.pop("AI_HTTP_TRANSPORT")  # the app's default
        env["PYTHONPATH"] = str(ROOT)
        setup = subprocess.run(
            [sys.executable, "-m", "bench.gateway_setup"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        if setup.returncode != 0:
            raise RuntimeError(f"database setup failed:\n{setup.stderr[-3000:]}")
        env["BENCH_TOKEN"] = json.loads(setup.stdout.strip().splitlines()[-1])["token"]
        result = run_worker("plain", args, env, tmp)
        if not args.no_breakdown:
            probed = run_worker("breakdown", args, env, tmp)
            result["imports"] = probed["imports"]
            result["import_stage"] = probed["import_stage"]
        return result
    finally:
        if fake is not None:
            fake.stop()


def report(result: dict, top: int) -> str:
    lines = [f"Worker RSS by stage (variant: {result['variant']})", ""]
    previous = None
    for row in result["stages"]:
        delta = "" if previous is None else f"{row['rss_mb'] - previous:+7.1f}"
        lines.append(f"  {row['stage']:<40} {row['rss_mb']:7.1f} MB {delta}")
        previous = row["rss_mb"]
    if result["first_request_ms"]:
        firsts = ", ".join(f"{p} {ms} ms" for p, ms in result["first_request_ms"].items())
        lines += ["", f"First plain request per provider: {firsts}"]
    imports = result.get("imports")
    if imports:
        total = sum(imports.values()) / 2**20
        lines += ["", f"RSS added by imports: {total:.1f} MB in {len(imports)} modules"]
        for depth in (1, 2):
            lines.append(f"  by {'package' if depth == 1 else 'subpackage'}:")
            for name, mb, n in breakdown(imports, depth, top):
                lines.append(f"    {mb:6.1f} MB  {n:5d} modules  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        args.worker_out.write_text(json.dumps(worker(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="ai-memory-") as tmp:
        result = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(result))
    else:
        print(report(result, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
