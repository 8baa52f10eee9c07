"""Benchmark the gateway end to end: ``python bench/run.py --quick`` (about a minute) or
``--full``. Starts the fake upstream and the gateway under uvicorn/granian pinned to separate
cores, drives load, prints tables and writes JSON under bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import env_info, report, wrk  # noqa: E402
from bench import scenarios as sc  # noqa: E402
from bench.loadgen import Target  # noqa: E402
from bench.measure import Rig  # noqa: E402
from bench.probe import probe  # noqa: E402
from bench.procs import hwm_mb, raise_nofile, rss_mb  # noqa: E402
from bench.servers import start_fake, start_gateway  # noqa: E402

FLOOR_APP = "bench.floor_asgi:application"


@dataclass(frozen=True)
class Plan:
    name: str
    duration: float
    warmup: float
    concurrency: tuple[int, ...]
    stream_concurrency: tuple[int, ...]
    slow_streams: int
    slow_chunk_delay: float
    slow_ramp: float
    servers: tuple[str, ...]
    transports: tuple[str, ...]
    providers: tuple[str, ...]
    chunks: int = 20


PLANS = {
    "quick": Plan(
        name="quick",
        duration=1.5,
        warmup=0.5,
        concurrency=(50,),
        stream_concurrency=(50,),
        slow_streams=300,
        slow_chunk_delay=0.25,
        slow_ramp=2.0,
        servers=("uvicorn",),
        transports=("httpx2",),
        providers=("openai", "anthropic", "gemini"),
    ),
    "full": Plan(
        name="full",
        duration=5.0,
        warmup=1.0,
        concurrency=(50, 200),
        stream_concurrency=(10, 50),
        slow_streams=5000,
        slow_chunk_delay=1.0,
        slow_ramp=10.0,
        servers=("uvicorn", "granian"),
        transports=("httpx2", "aiohttp"),
        providers=("openai", "anthropic", "gemini", "offline"),
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="about a minute (default)")
    mode.add_argument("--full", action="store_true", help="every section, both servers")
    p.add_argument("--out", type=Path, help="JSON path (default bench/results/<time>-<mode>.json)")
    p.add_argument("--servers", help="comma list: uvicorn,granian (first = primary)")
    p.add_argument("--transports", help="comma list: httpx2,aiohttp (first = primary)")
    p.add_argument("--providers", help="comma list of openai,anthropic,gemini,offline")
    p.add_argument("--duration", type=float, help="seconds per measured window")
    p.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="non-streaming load generator (streams always use bench.loadgen)",
    )
    p.add_argument("--db", choices=("auto", "postgres", "sqlite"), default="auto")
    p.add_argument(
        "--everything-on",
        action="store_true",
        help="issue 10's scenario: requests with a gateway API key that has rpm/tpm limits and "
        "budgets, user limits and budgets too (bench.settings_everything_on), Redis (REDIS_URL, "
        "required) as the limits' cache",
    )
    p.add_argument("--slow-streams", type=int, help="(d): concurrent slow streams")
    p.add_argument("--slow-chunk-delay", type=float, help="(d): seconds between the 20 deltas")
    p.add_argument("--slow-ramp", type=float, help="(d): seconds over which streams open")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for every core to be under 10%% busy",
    )
    p.add_argument(
        "--floor", action="store_true", help="also measure bare Django (always in --full)"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also record py-spy profiles of the primary gateway under load",
    )
    return p.parse_args(argv)


def default_transports(plan: Plan) -> tuple[str, ...]:
    """The app's default transport first (the primary configuration is what ships)."""
    from ai.conf import DEFAULTS

    first = DEFAULTS["AI_HTTP_TRANSPORT"]
    rest = tuple(t for t in ("aiohttp", "httpx2") if t != first)
    return (first, *rest)[: len(plan.transports)]


def make_plan(args: argparse.Namespace) -> Plan:
    plan = PLANS["full" if args.full else "quick"]

    def listed(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip() for v in value.split(",") if v.strip()) if value else default

    changes = {
        "servers": listed(args.servers, plan.servers),
        "transports": listed(args.transports, default_transports(plan)),
        "providers": listed(args.providers, plan.providers),
    }
    for name in ("duration", "slow_streams", "slow_chunk_delay", "slow_ramp"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return replace(plan, **changes)


class Bench:
    def __init__(self, args: argparse.Namespace, plan: Plan, tmp: Path) -> None:
        self.args = args
        self.plan = plan
        self.tmp = tmp
        self.nproc = os.cpu_count() or 1
        self.gateway_cpus, self.rig_cpus = ("0", "1") if self.nproc >= 2 else (None, None)
        generator = args.loadgen
        if generator == "auto":
            generator = "wrk" if wrk.available() else "python"
        self.rig = Rig(ROOT, tmp, self.rig_cpus, generator)
        self.wires: dict[str, str] = {}
        self.log = report.Log()
        self.stamp = time.strftime("%Y%m%d-%H%M%S")

    # -- setup ------------------------------------------------------------------------------

    def start_upstream(self) -> None:
        self.fake, port = start_fake(ROOT, self.tmp, self.rig_cpus, self.plan.chunks)
        self.upstream = f"http://127.0.0.1:{port}"
        self.rig.commands.append("fake upstream: " + " ".join(self.fake.cmd))
        for provider in sc.UPSTREAM_PROVIDERS:
            checks = [
                asyncio.run(
                    probe(sc.direct(provider, self.upstream, stream=s, chunks=self.plan.chunks))
                )
                for s in (False, True)
            ]
            bad = [c["problem"] for c in checks if c["problem"]]
            self.wires[provider] = "; ".join(bad)
            self.log.say(f"fake upstream {provider} wire: {'; '.join(bad) or 'ok'}")

    def calibrate(self) -> dict:
        """The rig's own ceilings: load generator + fake upstream alone, on the rig's cores."""
        p = self.plan
        plain = sc.direct("openai", self.upstream, stream=False, chunks=p.chunks)
        stream = sc.direct("openai", self.upstream, stream=True, chunks=p.chunks)
        out = {"generator": self.rig.generator}
        res = self.rig.requests(plain, 50, p.duration, p.warmup)
        out["requests_c50"] = res
        self.log.say(
            f"calibration: {self.rig.generator} vs fake alone c=50: {res['throughput']:.0f} req/s"
        )
        res = self.rig.streams(stream, 50, p.duration, p.warmup)
        out["streams_c50"] = res
        self.log.say(
            f"calibration: bench.loadgen ({res.get('client')} client) streams vs fake alone c=50: "
            f"{res['throughput']:.0f} streams/s"
        )
        return out

    def database_url(self) -> tuple[str, str]:
        want = self.args.db
        if want in ("auto", "postgres"):
            url = env_info.postgres_database("ai_bench")
            if url:
                return "postgres", url
            if want == "postgres":
                raise SystemExit("PostgreSQL on 127.0.0.1:5432 is not reachable")
        return "sqlite", f"sqlite:///{self.tmp / 'bench.sqlite3'}"

    # -- one gateway configuration ---------------------------------------------------------

    def run_config(self, server: str, transport: str, primary: bool, env: dict[str, str]):
        p = self.plan
        tag = f"{server}/{transport}"
        self.log.say(f"== gateway {tag} ({'primary' if primary else 'comparison'})")
        env = {**env, "AI_HTTP_TRANSPORT": transport}
        svc, port = start_gateway(
            ROOT, self.tmp, server, env, self.gateway_cpus, tag=f"-{transport}"
        )
        base = f"http://127.0.0.1:{port}"
        result: dict = {
            "server": server,
            "transport": transport,
            "primary": primary,
            "command": " ".join(svc.cmd),
            "providers": {},
        }
        self.rig.commands.append(f"gateway ({tag}): {' '.join(svc.cmd)}")
        try:
            pids = svc.workers()
            time.sleep(0.5)
            memory = {"rss_started_mb": rss_mb(pids)}
            usable = self.sanity(base, result)
            time.sleep(1.0)
            memory["rss_idle_mb"] = rss_mb(pids)
            for provider in usable:
                result["providers"][provider] = self.measure_provider(
                    provider, base, pids, full_sections=primary
                )
            if primary and "openai" in usable and p.slow_streams:
                result["slow_streams"] = self.slow_streams(base, pids)
            if self.args.profile:
                from bench import profile

                result["profile"] = {
                    provider: profile.run(self, base, pids, provider, f"{server}-{transport}")
                    for provider in usable
                }
            memory["rss_after_load_mb"] = rss_mb(pids)
            memory["peak_rss_mb"] = hwm_mb(pids)
            result["memory"] = memory
            result["usage_rows"] = env_info.usage_rows(ROOT, {**os.environ, **env})
        finally:
            svc.stop()
        return result

    def sanity(self, base: str, result: dict) -> list[str]:
        """One plain and one streamed request per provider (also warms the SDK clients)."""
        usable = []
        result["sanity"] = {}
        for provider in self.plan.providers:
            if provider != "offline" and self.wires.get(provider):
                result["sanity"][provider] = f"skipped: fake wire missing ({self.wires[provider]})"
                continue
            checks = [
                asyncio.run(
                    probe(sc.gateway(provider, base, self.token, stream=s, chunks=self.plan.chunks))
                )
                for s in (False, True)
            ]
            problems = [c["problem"] for c in checks if c["problem"]]
            result["sanity"][provider] = {"problem": "; ".join(problems), "checks": checks}
            self.log.say(f"gateway {provider}: {'; '.join(problems) or 'ok'}")
            if not problems:
                usable.append(provider)
        return usable

    def measure_provider(self, provider: str, base: str, pids: list[int], full_sections: bool):
        p, rig = self.plan, self.rig
        out: dict = {}
        gw = sc.gateway(provider, base, self.token, stream=False, chunks=p.chunks)
        gws = sc.gateway(provider, base, self.token, stream=True, chunks=p.chunks)
        has_direct = provider in sc.UPSTREAM_PROVIDERS
        # (a) added latency at c=1
        lat: dict = {"gateway": rig.requests(gw, 1, p.duration, p.warmup, pids)}
        if has_direct:
            lat["direct"] = self.direct_window(provider, stream=False)
            lat |= report.added(lat["gateway"]["latency_ms"], lat["direct"]["latency_ms"])
        out["latency_c1"] = lat
        # (b) saturation throughput
        levels = p.concurrency if full_sections else p.concurrency[:1]
        out["throughput"] = {
            str(c): rig.requests(gw, c, p.duration, p.warmup, pids) for c in levels
        }
        # (c) streaming: TTFT at c=1, streams/s
        ttft: dict = {"gateway": rig.streams(gws, 1, p.duration, p.warmup, pids)}
        if has_direct:
            ttft["direct"] = self.direct_window(provider, stream=True)
            ttft |= report.added(ttft["gateway"]["ttft_ms"], ttft["direct"]["ttft_ms"])
        out["ttft_c1"] = ttft
        levels = p.stream_concurrency if full_sections else p.stream_concurrency[-1:]
        out["streams"] = {str(c): rig.streams(gws, c, p.duration, p.warmup, pids) for c in levels}
        self.log.say(report.provider_line(provider, out))
        return out

    def direct_window(self, provider: str, stream: bool) -> dict:
        """The same request straight to the fake, measured right after the gateway's window
        (not cached): both then see the same background noise, which keeps "added" honest."""
        t = sc.direct(provider, self.upstream, stream=stream, chunks=self.plan.chunks)
        run = self.rig.streams if stream else self.rig.requests
        return run(t, 1, self.plan.duration, self.plan.warmup)

    def floor(self) -> dict:
        """Django alone on the primary server: a trivial async JSON view (without and with the
        example host's middleware) and a raw SSE relay of the fake's stream."""
        p, rig = self.plan, self.rig
        out: dict = {"server": p.servers[0]}
        for label, middleware in (("json", "0"), ("json_with_host_middleware", "1")):
            env = {"FLOOR_MIDDLEWARE": middleware, "FLOOR_UPSTREAM": self.upstream}
            svc, port = start_gateway(
                ROOT,
                self.tmp,
                p.servers[0],
                env,
                self.gateway_cpus,
                tag=f"-floor{middleware}",
                app=FLOOR_APP,
            )
            self.rig.commands.append(f"django floor ({label}): {' '.join(svc.cmd)}")
            try:
                base = f"http://127.0.0.1:{port}"
                body = sc.PROMPT_BODY
                t = Target(f"{base}/floor", body, {"Content-Type": "application/json"})
                pids = svc.workers()
                res = {
                    "c1": rig.requests(t, 1, p.duration, p.warmup, pids),
                    "c50": rig.requests(t, 50, p.duration, p.warmup, pids),
                }
                if middleware == "0":
                    rt = Target(
                        f"{base}/floor/relay",
                        body,
                        {"Content-Type": "application/json"},
                        "openai",
                        p.chunks,
                    )
                    res["relay_c1"] = rig.streams(rt, 1, p.duration, p.warmup, pids)
                    res["relay_c50"] = rig.streams(rt, 50, p.duration, p.warmup, pids)
                res["idle_rss_mb"] = rss_mb(pids)
                out[label] = res
            finally:
                svc.stop()
        self.log.say(report.floor_line(out))
        return out

    def scaling(self, env: dict[str, str]) -> dict:
        """One worker on core 0 vs two workers on cores 0-1, the rig on the other cores, both
        at c=100 non-streaming through the primary provider (the fake must not be the limit)."""
        p = self.plan
        rig = Rig(
            ROOT,
            self.tmp,
            f"2-{self.nproc - 1}",
            self.rig.generator,
            self.rig.secrets,
            self.rig.commands,
        )
        env = {**env, "AI_HTTP_TRANSPORT": p.transports[0]}
        out: dict = {"measured": True, "server": p.servers[0], "provider": p.providers[0]}
        for workers, cpus in ((1, "0"), (2, "0,1")):
            svc, port = start_gateway(
                ROOT, self.tmp, p.servers[0], env, cpus, workers, tag=f"-scaling{workers}"
            )
            try:
                t = sc.gateway(
                    p.providers[0],
                    f"http://127.0.0.1:{port}",
                    self.token,
                    stream=False,
                    chunks=p.chunks,
                )
                asyncio.run(probe(t))
                res = rig.requests(t, 100, p.duration, p.warmup, svc.workers())
                out[f"workers_{workers}"] = res
            finally:
                svc.stop()
        one = out["workers_1"]["throughput"]
        two = out["workers_2"]["throughput"]
        out["ratio"] = round(two / one, 2) if one else None
        out["ok"] = bool(out["ratio"] and out["ratio"] >= 1.8)
        self.log.say(
            f"scaling: 1 worker {one:.0f} req/s, 2 workers {two:.0f} req/s, x{out['ratio']}"
        )
        return out

    def one_vendor_memory(self, env: dict[str, str]) -> dict:
        """Idle RSS of a worker configured for OpenAI only (a host using one vendor imports one
        SDK), after one plain and one streamed request."""
        env = {**env, "ANTHROPIC_API_KEY": "", "GOOGLE_API_KEY": ""}
        svc, port = start_gateway(
            ROOT, self.tmp, self.plan.servers[0], env, self.gateway_cpus, tag="-one-vendor"
        )
        try:
            pids = svc.workers()
            for stream in (False, True):
                t = sc.gateway(
                    "openai",
                    f"http://127.0.0.1:{port}",
                    self.token,
                    stream=stream,
                    chunks=self.plan.chunks,
                )
                asyncio.run(probe(t))
            time.sleep(1.0)
            out = {"rss_idle_mb": rss_mb(pids), "command": " ".join(svc.cmd)}
        finally:
            svc.stop()
        self.log.say(f"memory, openai only: idle RSS {out['rss_idle_mb']} MB")
        return out

    def slow_streams(self, base: str, pids: list[int]) -> dict:
        p = self.plan
        text = f"{sc.PROMPT} [[fake:chunk_delay={p.slow_chunk_delay}]]"
        t = sc.gateway("openai", base, self.token, stream=True, chunks=p.chunks, text=text)
        self.log.say(
            f"(d) {p.slow_streams} slow streams ({p.chunks} deltas "
            f"{p.slow_chunk_delay * 1000:.0f} ms apart, opened over {p.slow_ramp}s)"
        )
        res = self.rig.burst(t, p.slow_streams, p.slow_ramp, pids)
        res["chunk_delay_s"] = p.slow_chunk_delay
        res["chunks"] = p.chunks
        self.log.say(
            f"    errors {res['errors']} {res['error_kinds'] or ''}, max open "
            f"{res['max_open']}, peak RSS {res.get('gateway_peak_rss_mb')} MB"
        )
        return res


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    limits = raise_nofile()
    started = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-everything-on" if args.everything_on else ""
    out_path = args.out or ROOT / "bench" / "results" / f"{started}-{plan.name}{suffix}.json"
    with tempfile.TemporaryDirectory(prefix="ai-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bench = Bench(args, plan, tmp)
        if bench.rig_cpus:
            os.sched_setaffinity(0, {int(c) for c in bench.rig_cpus.split(",")})
        results: dict = {
            "plan": plan.__dict__,
            "started": started,
            "meta": env_info.collect(bench.rig.generator),
        }
        results["meta"] |= {
            "nofile": limits,
            "gateway_cpus": bench.gateway_cpus,
            "rig_cpus": bench.rig_cpus,
            "nproc": bench.nproc,
            "background_busy_pct": env_info.wait_quiet(args.wait_quiet, bench.log),
        }
        report.warn_if_busy(results["meta"]["background_busy_pct"], bench.log)
        bench.start_upstream()
        try:
            results["calibration"] = bench.calibrate()
            db_kind, db_url = bench.database_url()
            env = sc.gateway_env(
                upstream=bench.upstream, database_url=db_url, transport=plan.transports[0]
            )
            setup_args: tuple[str, ...] = ()
            if args.everything_on:
                if not os.environ.get("REDIS_URL"):
                    raise SystemExit("--everything-on needs REDIS_URL (the limits' Redis)")
                env |= {
                    "DJANGO_SETTINGS_MODULE": "bench.settings_everything_on",
                    "REDIS_URL": os.environ["REDIS_URL"],
                }
                setup_args = ("--limited-key",)
            results["meta"]["everything_on"] = bool(args.everything_on)
            bench.token, setup = env_info.setup_gateway(ROOT, {**os.environ, **env}, *setup_args)
            bench.rig.secrets[bench.token] = "$TOKEN"
            results["meta"] |= {"database": db_kind, "usage_rows_before": setup["usage_rows"]}
            results["configs"] = []
            primary = True
            for server in plan.servers:
                for transport in plan.transports if primary else plan.transports[:1]:
                    results["configs"].append(bench.run_config(server, transport, primary, env))
                    primary = False
            if "openai" in plan.providers:
                results["one_vendor_memory"] = bench.one_vendor_memory(env)
            if plan.name == "full" or args.floor:
                results["floor"] = bench.floor()
            results["scaling"] = (
                bench.scaling(env)
                if bench.nproc >= 4 and plan.name == "full"
                else env_info.scaling_note(bench.nproc)
            )
        finally:
            bench.fake.stop()
            results["commands"] = bench.rig.commands
            results["log"] = bench.log.lines
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(report.dumps(results))
    print(report.render(results))
    print(f"\nJSON: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
