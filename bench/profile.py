"""Where the gateway's time goes: py-spy samples a worker while the rig drives load.

``python bench/run.py --profile`` records one profile under non-streaming load (c=50) and one
under streaming load (c=50) for the first measured provider, keeps the raw collapsed stacks in
bench/results/ and summarises them: self time by library and by function, inclusive time by
function. py-spy runs on the rig's core, not the gateway's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from bench import scenarios as sc
from bench.procs import pinned

RATE = 200
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def library(path: str) -> str:
    """The package a frame's file belongs to. py-spy prints paths relative to sys.path
    entries (``django/db/models/query.py``), absolute ones only outside them."""
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif "/lib/python3." in path:
        path = path.split("/lib/python3.", 1)[1].partition("/")[2]
    if path.startswith("<frozen"):
        return "stdlib"
    if path.startswith("/"):
        return "ai" if "/ai/" in path else path
    top = path.split("/", 1)[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return f"stdlib:{top}" if top in ("asyncio", "concurrent", "threading") else "stdlib"
    return top


SDK_LIBS = {"openai", "anthropic", "genai", "google", "tenacity"}
HTTP_LIBS = {"httpx2", "httpcore2", "aiohttp", "anyio", "h11", "yarl", "multidict", "sniffio"}
HOP_LIBS = {"stdlib:threading", "stdlib:concurrent", "asgiref"}
SERVER_LIBS = {"uvicorn", "granian", "httptools", "uvloop"}
DJANGO_LIBS = {"django", "rest_framework", "rest_framework_simplejwt", "drf_spectacular"}


def bucket(libs: set[str], leaf: str, root: str) -> str:
    """One concern per sample, checked in this order: the vendor SDK call (with the HTTP client
    under it), the database, the usage ledger's thread, thread hops, then the leaf's library."""
    if libs & SDK_LIBS or (libs & HTTP_LIBS and leaf in HTTP_LIBS):
        return "upstream call: SDK + HTTP client"
    if "psycopg" in libs:
        return "database (psycopg)"
    if "UsageWriter" in root or ("_bootstrap" in root and "ai" in libs):
        return "usage ledger thread"
    if leaf in HOP_LIBS or (libs & HOP_LIBS and leaf.startswith("stdlib")):
        return "thread hops (sync_to_async, executors)"
    if leaf in SERVER_LIBS:
        return "ASGI server"
    if leaf in DJANGO_LIBS:
        return "Django / DRF"
    if leaf == "ai":
        return "gateway code (ai/)"
    if leaf.startswith("stdlib"):
        return "event loop / stdlib"
    return "other"


def parse(raw: str) -> dict[str, Counter]:
    """Counters of samples: self/inclusive by function, self by library, by thread."""
    out = {k: Counter() for k in ("self_fn", "incl_fn", "self_lib", "incl_lib", "thread", "bucket")}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        thread = "?"
        if frames and frames[0].startswith(("thread (", "process ")):
            thread = frames.pop(0)
        if not frames:
            continue
        keys = []
        for frame in frames:
            m = FRAME.match(frame)
            func, file = (m.group("func"), m.group("file")) if m else (frame, "")
            keys.append((f"{func} ({_short(file)})", library(file)))
        for key in {k for k, _ in keys}:
            out["incl_fn"][key] += n
        libs = {lib for _, lib in keys}
        for lib in libs:
            out["incl_lib"][lib] += n
        out["bucket"][bucket(libs, keys[-1][1], keys[0][0])] += n
        out["self_fn"][keys[-1][0]] += n
        out["self_lib"][keys[-1][1]] += n
        # Name a thread by its outermost frame: the event loop's starts in runpy/uvicorn.
        out["thread"][f"{thread} {keys[0][0]}"] += n
    return out


def _short(path: str) -> str:
    root = str(Path(__file__).resolve().parent.parent) + "/"
    if path.startswith(root):
        return path[len(root) :]
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1]
    return path.rsplit("/lib/", 1)[-1]


def summarize(raw: str, seconds: float, rate: int, top: int = 15) -> dict:
    """Percentages of all samples. Sampled with ``--gil``, a sample is a moment some thread held
    the GIL, so the total against ``seconds * rate`` is how busy the Python side was."""
    c = parse(raw)
    total = sum(c["self_fn"].values())

    def pct(counter: Counter, k: int) -> list[list]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(k)]

    return {
        "samples": total,
        "gil_busy_pct": round(100 * total / (seconds * rate), 1),
        "threads": pct(c["thread"], 5),
        "by_concern": pct(c["bucket"], 12),
        "self_by_library": pct(c["self_lib"], top),
        "self_by_function": pct(c["self_fn"], top),
        "inclusive_by_library": pct(c["incl_lib"], 25),
        "inclusive_by_function": pct(c["incl_fn"], 60),
    }


def record(bench, pids: list[int], seconds: float, out: Path) -> bool:
    spy = py_spy()
    if spy is None:
        return False
    cmd = pinned(
        [
            spy,
            "record",
            "--pid",
            str(pids[0]),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(RATE),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--gil",
            "--threads",
        ],
        bench.rig_cpus,
    )
    bench.rig.commands.append(" ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        bench.log.say(f"py-spy failed: {done.stderr[-500:]}")
    return out.exists()


def run(bench, base: str, pids: list[int], provider: str, tag: str = "") -> dict:
    results: dict = {}
    outdir = Path(__file__).resolve().parent / "results"
    outdir.mkdir(exist_ok=True)
    seconds = 6.0
    for kind, stream in (("requests", False), ("streams", True)):
        t = sc.gateway(provider, base, bench.token, stream=stream, chunks=bench.plan.chunks)
        load: dict = {}

        def drive(t=t, stream=stream, load=load) -> None:
            run = bench.rig.streams if stream else bench.rig.requests
            load["result"] = run(t, 50, seconds + 2, 1.0, pids)

        thread = threading.Thread(target=drive)
        thread.start()
        out = outdir / f"profile-{bench.stamp}-{tag}-{provider}-{kind}.txt"
        threading.Event().wait(1.5)
        ok = record(bench, pids, seconds, out)
        thread.join()
        if not ok:
            results[kind] = {"error": "py-spy unavailable or failed"}
            continue
        summary = summarize(out.read_text(), seconds, RATE)
        summary["raw"] = str(out)
        summary["throughput_while_profiled"] = load.get("result", {}).get("throughput")
        results[kind] = summary
        libs = ", ".join(f"{n} {p}%" for n, p in summary["self_by_library"][:8])
        bench.log.say(f"profile {tag} {provider} {kind}: {libs}")
    return results


def main() -> None:
    """``python -m bench.profile RAW [SECONDS]``: summarise a kept raw profile again."""
    import json

    raw = Path(sys.argv[1]).read_text(errors="replace")
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    print(json.dumps(summarize(raw, seconds, RATE), indent=1))


if __name__ == "__main__":
    main()
