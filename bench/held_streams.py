"""Held streams: how many slow streams one gateway worker on one core holds, and at what cost.

``python -m bench.held_streams --streams 3000,9000`` (defaults: 15 deltas 1 s apart, opened over
10 s, plus 2,000 unpaced streams in the same run). For each N it starts a fresh gateway as
``run.sh`` starts it (uvicorn, one worker, uvloop + httptools, ``gateway_project`` on its default
settings) pinned to CPU 0, with the fake upstream and the load generator on CPU 1, then:

1. warms the gateway (a few plain and streamed requests), waits, reads the idle RSS;
2. opens N paced streams evenly over the ramp and holds each to its end (the load generator's
   ``burst`` mode: one raw asyncio + httptools connection per stream, SSE parsed frame by frame;
   a stream counts as completed only with every delta and its end frame);
3. sends the unpaced streams (same length, no delay between deltas) open loop at a fixed rate
   well under what the core serves, so their CPU per stream is measured at low concurrency;
4. stops the gateway and counts the ledger rows it wrote.

Printed per N: completed, errors, most open at once, wall time, the gateway's CPU time per
stream (from /proc, between the load generator's start and end marks) paced and unpaced and
their ratio, idle and peak RSS (sampled every 0.1 s), RSS per open stream = (peak - idle) /
most open at once, and how busy each core was (the rig's core must not be the limit:
``--calibrate`` first runs the largest N straight against the fake, without the gateway).
Everything, with the exact command lines, also goes to ``bench/results/held-<time>.json``.

Loopback only, every child process pinned and stopped at the end; a stream that gets no
complete answer in 120 s counts as an error, so a run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import env_info, report  # noqa: E402
from bench import scenarios as sc  # noqa: E402
from bench.loadgen import Target  # noqa: E402
from bench.measure import Rig  # noqa: E402
from bench.probe import probe  # noqa: E402
from bench.procs import hwm_mb, raise_nofile, rss_mb  # noqa: E402
from bench.servers import start_fake, start_gateway  # noqa: E402

PROVIDER = "openai"
#: What is served: the gateway (example project), or a floor (bench/held_floor.py).
APPS = {
    "gateway": "gateway_project.asgi:application",
    "django-floor": "bench.held_floor:application",
    "asgi-floor": "bench.held_floor:raw_application",
}


@dataclass(frozen=True)
class Plan:
    streams: tuple[int, ...]
    deltas: int
    interval: float
    ramp: float
    unpaced: int
    unpaced_rate: float
    db: str
    transport: str | None
    calibrate: bool
    wait_quiet: float = 0.0
    app: str = "gateway"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.held_streams", description=__doc__)
    p.add_argument("--streams", default="3000", help="comma list of N paced streams (3000,9000)")
    p.add_argument("--deltas", type=int, default=15, help="content deltas per stream")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between paced deltas")
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which N streams open")
    p.add_argument("--unpaced", type=int, default=2000, help="unpaced streams per N (0: none)")
    p.add_argument(
        "--unpaced-rate",
        type=float,
        default=200.0,
        help="unpaced streams opened per second (well under the core's capacity)",
    )
    p.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="sqlite (run.sh's default; a temporary file) or the local PostgreSQL",
    )
    p.add_argument(
        "--transport",
        choices=("aiohttp", "httpx2"),
        help="AI_HTTP_TRANSPORT (default: the project's own default)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="first hold the largest N straight against the fake (the rig's own capacity)",
    )
    p.add_argument(
        "--app",
        choices=sorted(APPS),
        default="gateway",
        help="what to serve: the gateway, or a floor relaying the fake with Django alone "
        "(django-floor) or a bare ASGI app (asgi-floor), see bench/held_floor.py",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each N, wait up to this long for every core to be under 10%% busy",
    )
    p.add_argument("--out", type=Path, help="JSON path (default bench/results/held-<time>.json)")
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    streams = tuple(int(s) for s in args.streams.split(",") if s.strip())
    if not streams or min(streams) < 1 or args.deltas < 1 or args.interval < 0 or args.ramp < 0:
        raise SystemExit("--streams, --deltas need positive values; --interval, --ramp >= 0")
    return Plan(
        streams=streams,
        deltas=args.deltas,
        interval=args.interval,
        ramp=args.ramp,
        unpaced=max(args.unpaced, 0),
        unpaced_rate=max(args.unpaced_rate, 1.0),
        db=args.db,
        transport=args.transport,
        calibrate=args.calibrate,
        wait_quiet=args.wait_quiet,
        app=args.app,
    )


def prompt(deltas: int, interval: float) -> str:
    pacing = f" chunk_delay={interval:g}" if interval else ""
    return f"{sc.PROMPT} [[fake:chunks={deltas}{pacing}]]"


#: Settings the environment may change for a comparison (recorded in the results' ``ai_env``).
STUDIED = (
    "AI_SSE_KEEPALIVE_SECONDS",
    "AI_IDLE_TIMEOUT",
    "AI_FIRST_BYTE_TIMEOUT",
    "AI_GC_FREEZE",
    "AI_GC_THRESHOLDS",
)


def gateway_env(upstream: str, database_url: str, transport: str | None) -> dict[str, str]:
    """The example project on its own defaults (as run.sh runs it): only the database, the
    vendor keys and base URLs (the fake) and a long-lived JWT are set. No log level, no
    transport, no usage switch: what ships is what is measured."""
    full = sc.gateway_env(upstream=upstream, database_url=database_url, transport="")
    keep = (
        "DJANGO_SETTINGS_MODULE",
        "SECRET_KEY",
        "DATABASE_URL",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "GOOGLE_GEMINI_BASE_URL",
        "JWT_ACCESS_MINUTES",
    )
    env = {k: full[k] for k in keep}
    # A setting under study, given in the environment (AI_SSE_KEEPALIVE_SECONDS=0 ...).
    env |= {k: v for k, v in os.environ.items() if k in STUDIED}
    if transport:
        env["AI_HTTP_TRANSPORT"] = transport
    return env


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 2)


class HeldStreams:
    def __init__(self, plan: Plan, tmp: Path) -> None:
        self.plan = plan
        self.tmp = tmp
        self.log = report.Log()
        nproc = os.cpu_count() or 1
        self.gateway_cpus, self.rig_cpus = ("0", "1") if nproc >= 2 else (None, None)
        self.rig = Rig(ROOT, tmp, self.rig_cpus, "python")

    # -- setup ------------------------------------------------------------------------------

    def start(self) -> None:
        p = self.plan
        self.fake, port = start_fake(ROOT, self.tmp, self.rig_cpus, p.deltas)
        self.upstream = f"http://127.0.0.1:{port}"
        self.rig.commands.append("fake upstream: " + " ".join(self.fake.cmd))
        if p.db == "postgres":
            url = env_info.postgres_database("ai_bench_held")
            if not url:
                raise SystemExit("PostgreSQL on 127.0.0.1:5432 is not reachable")
        else:
            url = f"sqlite:///{self.tmp / 'held.sqlite3'}"
        self.env = gateway_env(self.upstream, url, p.transport)
        self.token, _ = env_info.setup_gateway(ROOT, {**os.environ, **self.env})
        self.rig.secrets[self.token] = "$TOKEN"

    def stop(self) -> None:
        self.fake.stop()

    @property
    def gateway(self) -> bool:
        return self.plan.app == "gateway"

    def target(self, base: str, interval: float) -> Target:
        text = prompt(self.plan.deltas, interval)
        if not self.gateway:
            body = sc.PROMPT_BODY.replace(sc.PROMPT.encode(), text.encode())
            headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
            return Target(f"{base}/relay", body, headers, "openai", self.plan.deltas)
        return sc.gateway(
            PROVIDER, base, self.token, stream=True, chunks=self.plan.deltas, text=text
        )

    def ledger_rows(self) -> int | str | None:
        return env_info.usage_rows(ROOT, {**os.environ, **self.env})

    # -- measurements -----------------------------------------------------------------------

    def calibrate(self) -> dict:
        """The largest N held straight against the fake: what the rig core carries alone."""
        p = self.plan
        n = max(p.streams)
        text = prompt(p.deltas, p.interval)
        t = sc.direct(PROVIDER, self.upstream, stream=True, chunks=p.deltas, text=text)
        res = self.rig.burst(t, n, p.ramp)
        out = {k: res.get(k) for k in ("streams", "completed", "errors", "error_kinds")}
        out |= {"max_open": res.get("max_open"), "wall_s": res.get("wall_s")}
        self.log.say(
            f"calibration: {n} paced streams straight to the fake: {out['completed']} completed,"
            f" {out['errors']} errors, max open {out['max_open']}, {out['wall_s']} s"
        )
        return out

    def one_n(self, n: int) -> dict:
        p = self.plan
        rows_before = self.ledger_rows() if self.gateway else None
        busy = env_info.wait_quiet(p.wait_quiet, self.log) if p.wait_quiet else None
        env = self.env
        if not self.gateway:
            env = {"DJANGO_SETTINGS_MODULE": "bench.held_floor", "FLOOR_UPSTREAM": self.upstream}
        svc, port = start_gateway(
            ROOT, self.tmp, "uvicorn", env, self.gateway_cpus, tag=f"-held{n}", app=APPS[p.app]
        )
        self.rig.commands.append(f"gateway (N={n}): {' '.join(svc.cmd)}")
        base = f"http://127.0.0.1:{port}"
        out: dict = {"n": n, "command": " ".join(svc.cmd), "background_busy_pct": busy}
        try:
            pids = svc.workers()
            warm = [self.target(base, 0.0)]
            if self.gateway:
                warm.append(sc.gateway(PROVIDER, base, self.token, stream=False, chunks=None))
            for _ in range(3):
                for t in warm:
                    check = asyncio.run(probe(t))
                    if check["problem"]:
                        raise RuntimeError(f"gateway not answering properly: {check['problem']}")
            time.sleep(1.0)
            out["idle_rss_mb"] = idle = rss_mb(pids)
            self.log.say(
                f"N={n}: {n} paced streams ({p.deltas} deltas {p.interval * 1000:g} ms apart, "
                f"opened over {p.ramp:g} s), idle RSS {idle} MB"
            )
            paced = self.rig.burst(self.target(base, p.interval), n, p.ramp, pids)
            out["paced"] = paced
            out["rss_after_paced_mb"] = rss_mb(pids)
            if p.unpaced:
                ramp = p.unpaced / p.unpaced_rate
                self.log.say(f"N={n}: {p.unpaced} unpaced streams over {ramp:g} s")
                out["unpaced"] = self.rig.burst(self.target(base, 0.0), p.unpaced, ramp, pids)
            out["hwm_mb"] = hwm_mb(pids)
        finally:
            svc.stop()
        rows_after = self.ledger_rows() if self.gateway else None
        if isinstance(rows_before, int) and isinstance(rows_after, int):
            out["ledger_rows_added"] = rows_after - rows_before
            out["requests_sent"] = len(warm) * 3 + n + p.unpaced
        out |= self.summary(out)
        self.log.say(line(out))
        return out

    def summary(self, out: dict) -> dict:
        paced = out["paced"]
        unpaced = out.get("unpaced") or {}
        peak = paced.get("gateway_peak_rss_mb")
        opened = paced.get("max_open") or 0
        cpu_paced = _ms(paced.get("gateway_cpu_us_per_req"))
        cpu_unpaced = _ms(unpaced.get("gateway_cpu_us_per_req"))
        cores = paced.get("core_busy_pct") or {}
        return {
            "completed": paced["completed"],
            "errors": paced["errors"],
            "error_kinds": paced["error_kinds"],
            "max_open": opened,
            "wall_s": paced["wall_s"],
            "stream_ms_p50": paced["duration_ms"]["p50"],
            "stream_ms_max": paced["duration_ms"]["max"],
            "ttft_ms_p99": paced["ttft_ms"]["p99"],
            "cpu_ms_per_stream_paced": cpu_paced,
            "cpu_ms_per_stream_unpaced": cpu_unpaced,
            "unpaced_completed": unpaced.get("completed"),
            "unpaced_errors": unpaced.get("errors"),
            "unpaced_max_open": unpaced.get("max_open"),
            "paced_over_unpaced": round(cpu_paced / cpu_unpaced, 2)
            if cpu_paced and cpu_unpaced
            else None,
            "peak_rss_mb": peak,
            "rss_per_open_stream_kb": round((peak - out["idle_rss_mb"]) * 1024 / opened, 1)
            if peak and opened
            else None,
            "gateway_cpu_pct": paced.get("gateway_cpu_pct"),
            "gateway_core_busy_pct": cores.get(f"cpu{self.gateway_cpus}")
            if self.gateway_cpus
            else None,
            "rig_core_busy_pct": cores.get(f"cpu{self.rig_cpus}") if self.rig_cpus else None,
        }


def line(r: dict) -> str:
    return (
        f"N={r['n']}: {r['completed']} completed, {r['errors']} errors"
        f"{' ' + str(r['error_kinds']) if r['error_kinds'] else ''}, max open {r['max_open']}, "
        f"{r['wall_s']} s; CPU/stream paced {r['cpu_ms_per_stream_paced']} ms, unpaced "
        f"{r['cpu_ms_per_stream_unpaced']} ms (x{r['paced_over_unpaced']}); peak RSS "
        f"{r['peak_rss_mb']} MB, {r['rss_per_open_stream_kb']} KB per open stream"
    )


def render(results: dict) -> str:
    plan = results["plan"]
    head = (
        f"Held streams: {plan['deltas']} deltas {plan['interval'] * 1000:g} ms apart, opened over "
        f"{plan['ramp']:g} s; unpaced: {plan['unpaced']} streams at {plan['unpaced_rate']:g}/s. "
        f"{plan.get('app', 'gateway')}: uvicorn, 1 worker, CPU {results['meta']['gateway_cpus']}; "
        f"db {plan['db']}; "
        f"commit {results['meta'].get('commit')}"
    )
    headers = [
        "N paced",
        "completed",
        "errors",
        "max open",
        "wall s",
        "stream p50/max s",
        "CPU/stream paced",
        "unpaced",
        "ratio",
        "idle/peak RSS MB",
        "RSS/open stream",
        "gw CPU % (own/core/rig core)",
    ]
    rows = []
    for r in results["runs"]:
        rows.append(
            [
                str(r["n"]),
                str(r["completed"]),
                str(r["errors"]),
                str(r["max_open"]),
                str(r["wall_s"]),
                f"{_s(r['stream_ms_p50'])}/{_s(r['stream_ms_max'])}",
                f"{r['cpu_ms_per_stream_paced']} ms",
                f"{r['cpu_ms_per_stream_unpaced']} ms ({r['unpaced_max_open']} open)",
                f"x{r['paced_over_unpaced']}",
                f"{r['idle_rss_mb']}/{r['peak_rss_mb']}",
                f"{r['rss_per_open_stream_kb']} KB",
                f"{r['gateway_cpu_pct']}/{r['gateway_core_busy_pct']}/{r['rig_core_busy_pct']}",
            ]
        )
    return head + "\n" + report._table(headers, rows)


def _s(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}"


def commit() -> str | None:
    import subprocess

    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:  # not a git checkout (a `git archive` copy): say which it is
        return os.environ.get("BENCH_COMMIT")
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "ai"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.stdout.strip() + ("+dirty(ai/)" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    limits = raise_nofile()
    started = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.out or ROOT / "bench" / "results" / f"held-{started}.json"
    with tempfile.TemporaryDirectory(prefix="ai-held-") as tmp_name:
        bench = HeldStreams(plan, Path(tmp_name))
        if bench.rig_cpus:
            os.sched_setaffinity(0, {int(c) for c in bench.rig_cpus.split(",")})
        results: dict = {
            "plan": plan.__dict__,
            "started": started,
            "meta": env_info.collect("python")
            | {
                "nofile": limits,
                "gateway_cpus": bench.gateway_cpus,
                "rig_cpus": bench.rig_cpus,
                "commit": commit(),
                "background_busy_pct": env_info.background_busy(1.0),
                # Settings from the environment that change what is measured (no secrets).
                "ai_env": {
                    k: v
                    for k, v in os.environ.items()
                    if k.startswith("AI_")
                    and not any(w in k for w in ("KEY", "SECRET", "TOKEN", "PASSWORD"))
                },
            },
            "runs": [],
        }
        bench.start()
        try:
            if plan.calibrate:
                results["calibration"] = bench.calibrate()
            for n in plan.streams:
                results["runs"].append(bench.one_n(n))
        finally:
            bench.stop()
            results["commands"] = bench.rig.commands
            results["log"] = bench.log.lines
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(report.dumps(results))
    print(render(results))
    print(f"\nJSON: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
