"""The printed tables, the targets check, and the JSON file."""

from __future__ import annotations

import sys
import time

import orjson

from bench.stats import diff

TARGETS = {
    "rps_c50": 1000.0,
    "streams_c50": 600.0,
    "added_p50_ms": 1.5,
    "added_p99_ms": 3.0,
    "added_ttft_p50_ms": 1.0,
    "slow_streams": 5000,
    "slow_peak_rss_mb": 1024.0,
    "idle_rss_mb": 150.0,
}


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.t0 = time.monotonic()

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.1f}s] {message}"
        self.lines.append(line)
        print(line, file=sys.stderr, flush=True)


def warn_if_busy(busy: dict[str, float], log: Log) -> None:
    hot = {cpu: pct for cpu, pct in busy.items() if pct > 15}
    if hot:
        log.say(
            f"WARNING: cores busy before start {hot}: other processes are running; "
            "throughput and latency will be noisy (CPU per request is still comparable)"
        )


def added(gateway: dict, direct: dict) -> dict:
    return {
        "added_p50_ms": diff(gateway.get("p50"), direct.get("p50")),
        "added_p99_ms": diff(gateway.get("p99"), direct.get("p99")),
    }


def dumps(results: dict) -> bytes:
    return orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _pair(stats: dict | None) -> str:
    stats = stats or {}
    return f"{_f(stats.get('p50'))}/{_f(stats.get('p99'))}"


def _errors(res: dict) -> str:
    return (
        str(res.get("errors", "-"))
        if not res.get("error_kinds")
        else (f"{res['errors']} {res['error_kinds']}")
    )


def _cores(res: dict) -> str:
    """Busy % of each core in the window: "gateway/rig". A rig core near 100% means the load
    generator and fake upstream, not the gateway, may be what limits the number."""
    busy = res.get("core_busy_pct") or {}
    return "/".join(_f(v, "{:.0f}") for _, v in sorted(busy.items())[:4]) or "-"


def floor_line(floor: dict) -> str:
    plain, mw = floor.get("json", {}), floor.get("json_with_host_middleware", {})
    parts = [f"django floor ({floor['server']}): async JSON view"]
    if plain:
        parts.append(
            f"c=1 p50/p99 {_pair(plain['c1']['latency_ms'])} ms, c=50 "
            f"{plain['c50']['throughput']:.0f} req/s "
            f"({_f(plain['c50'].get('gateway_cpu_us_per_req'), '{:.0f}')} us CPU/req)"
        )
    if mw:
        parts.append(
            f"with the host's middleware c=50 {mw['c50']['throughput']:.0f} req/s "
            f"({_f(mw['c50'].get('gateway_cpu_us_per_req'), '{:.0f}')} us CPU/req)"
        )
    if plain.get("relay_c50"):
        r1, r50 = plain["relay_c1"], plain["relay_c50"]
        parts.append(
            f"raw SSE relay TTFT c=1 p50 {_f(r1['ttft_ms']['p50'])} ms, c=50 "
            f"{r50['throughput']:.0f} streams/s "
            f"({_f(r50.get('gateway_cpu_us_per_req'), '{:.0f}')} us CPU/stream, "
            f"errors {_errors(r50)})"
        )
    return "; ".join(parts)


def noisy(res: dict) -> bool:
    """Did other processes use the gateway's core in this window? (busy % of cpu0 well above
    the gateway's own CPU %): then throughput and latency understate the gateway."""
    busy = (res.get("core_busy_pct") or {}).get("cpu0")
    own = res.get("gateway_cpu_pct")
    return busy is not None and own is not None and busy - own > 20


def _errors_noisy(res: dict) -> str:
    return _errors(res) + (" NOISY" if noisy(res) else "")


def provider_line(provider: str, out: dict) -> str:
    lat = out["latency_c1"]
    rps = ", ".join(f"c={c} {r['throughput']:.0f} req/s" for c, r in out["throughput"].items())
    streams = ", ".join(f"c={c} {r['throughput']:.0f}/s" for c, r in out["streams"].items())
    return (
        f"{provider}: added p50/p99 {_f(lat.get('added_p50_ms'))}/"
        f"{_f(lat.get('added_p99_ms'))} ms; {rps}; TTFT added "
        f"{_f(out['ttft_c1'].get('added_p50_ms'))} ms; streams {streams}"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


def render_config(cfg: dict) -> str:
    mem = cfg.get("memory", {})
    parts = [
        f"\n### {cfg['server']} / {cfg['transport']}"
        f"{' (primary)' if cfg['primary'] else ''}: idle RSS {mem.get('rss_idle_mb')} MB "
        f"(at start {mem.get('rss_started_mb')}), after load "
        f"{mem.get('rss_after_load_mb')} MB, peak {mem.get('peak_rss_mb')} MB; "
        f"usage rows {cfg.get('usage_rows')}"
    ]
    for provider, check in cfg.get("sanity", {}).items():
        problem = check if isinstance(check, str) else check.get("problem")
        if problem:
            parts.append(f"  {provider}: NOT MEASURED - {problem}")
    provs = cfg["providers"]
    if not provs:
        return "\n".join(parts)
    rows = []
    for name, out in provs.items():
        lat = out["latency_c1"]
        rows.append(
            [
                name,
                _pair(lat.get("direct", {}).get("latency_ms")),
                _pair(lat["gateway"]["latency_ms"]),
                f"{_f(lat.get('added_p50_ms'))}/{_f(lat.get('added_p99_ms'))}",
                _f(lat["gateway"].get("gateway_cpu_us_per_req"), "{:.0f}"),
                _errors(lat["gateway"]),
            ]
        )
    parts.append("(a) latency at c=1, ms p50/p99")
    parts.append(
        _table(["provider", "direct", "gateway", "added", "gw CPU us/req", "errors"], rows)
    )
    rows = []
    for name, out in provs.items():
        for c, r in out["throughput"].items():
            rows.append(
                [
                    name,
                    c,
                    _f(r["throughput"], "{:.0f}"),
                    _pair(r["latency_ms"]),
                    _f(r.get("gateway_cpu_pct"), "{:.0f}"),
                    _cores(r),
                    _f(r.get("gateway_cpu_us_per_req"), "{:.0f}"),
                    _errors_noisy(r),
                ]
            )
    parts.append(
        "(b) saturation throughput (non-streaming; NOISY = another process used the gateway's "
        "core, so req/s understates; CPU us/req still holds)"
    )
    head = [
        "provider",
        "c",
        "req/s",
        "p50/p99 ms",
        "gw CPU %",
        "cores busy %",
        "CPU us/req",
        "errors",
    ]
    parts.append(_table(head, rows))
    rows = []
    for name, out in provs.items():
        t = out["ttft_c1"]
        added_ttft = f"{_f(t.get('added_p50_ms'))}/{_f(t.get('added_p99_ms'))}"
        rows.append(
            [
                name,
                "1 (TTFT)",
                _pair(t.get("direct", {}).get("ttft_ms")),
                _pair(t["gateway"]["ttft_ms"]),
                added_ttft,
                "",
                "",
                "",
                _errors(t["gateway"]),
            ]
        )
        for c, r in out["streams"].items():
            lost = "" if r.get("all_frames_delivered") else " (LOST)"
            rows.append(
                [
                    name,
                    c,
                    "",
                    _pair(r["ttft_ms"]),
                    "",
                    _f(r["throughput"], "{:.0f}"),
                    _cores(r),
                    _f(r.get("gateway_cpu_us_per_req"), "{:.0f}"),
                    f"{_errors_noisy(r)}{lost}",
                ]
            )
    parts.append("(c) streaming (TTFT ms p50/p99; streams/s; every delta + end checked)")
    head = [
        "provider",
        "c",
        "direct TTFT",
        "gw TTFT",
        "added",
        "streams/s",
        "cores busy %",
        "CPU us/stream",
        "errors",
    ]
    parts.append(_table(head, rows))
    slow = cfg.get("slow_streams")
    if slow:
        parts.append(
            f"(d) {slow['streams']} slow streams ({slow['chunks']} deltas "
            f"{slow['chunk_delay_s'] * 1000:.0f} ms apart, opened over {slow['ramp_s']}s): "
            f"completed {slow['completed']}, errors {_errors(slow)}, max open at once "
            f"{slow['max_open']}, TTFT p50/p99 {_pair(slow['ttft_ms'])} ms, gateway peak RSS "
            f"{slow.get('gateway_peak_rss_mb')} MB, wall {slow['wall_s']}s"
        )
    for provider, kinds in (cfg.get("profile") or {}).items():
        for kind, prof in kinds.items():
            parts.append(render_profile(f"{provider} {kind}", prof))
    return "\n".join(parts)


def render_profile(kind: str, prof: dict) -> str:
    if "error" in prof:
        return f"profile ({kind}): {prof['error']}"
    libs = ", ".join(f"{n} {p}%" for n, p in prof["self_by_library"][:10])
    lines = [
        f"profile ({kind}, {prof['throughput_while_profiled']}/s while sampled; GIL busy "
        f"{prof['gil_busy_pct']}%): self time by library: {libs}",
        "  by concern: " + ", ".join(f"{n} {p}%" for n, p in prof.get("by_concern", [])),
        "  inclusive by library: "
        + ", ".join(f"{n} {p}%" for n, p in prof["inclusive_by_library"][:14] if n != "click"),
        "  top self:  " + "; ".join(f"{n} {p}%" for n, p in prof["self_by_function"][:8]),
        "  inclusive: " + "; ".join(f"{n} {p}%" for n, p in _below_roots(prof)[:12]),
    ]
    return "\n".join(lines)


def _below_roots(prof: dict) -> list[list]:
    """Inclusive entries without the frames every stack of a thread passes through (runpy,
    click, the server's run loop): those say nothing about where the time goes."""
    top = max((p for _, p in prof["threads"]), default=100.0)
    return [[n, p] for n, p in prof["inclusive_by_function"] if p < 0.9 * top]


def targets(results: dict) -> list[list[str]]:
    primary = next((c for c in results.get("configs", []) if c["primary"]), None)
    if primary is None:
        return []
    rows = []

    def check(name: str, measured: str, ok: bool | None) -> None:
        rows.append([name, measured, {True: "PASS", False: "FAIL", None: "n/a"}[ok]])

    provs = {k: v for k, v in primary["providers"].items() if k != "offline"}
    for name, out in provs.items():
        r = out["throughput"].get("50")
        if r:
            ok = r["throughput"] >= TARGETS["rps_c50"] and not r["errors"]
            note = " (NOISY)" if noisy(r) else ""
            check(f"{name} req/s c=50 >= 1000", f"{r['throughput']:.0f}{note}", ok)
        s = out["streams"].get("50")
        if s:
            ok = s["throughput"] >= TARGETS["streams_c50"] and bool(s["all_frames_delivered"])
            note = " (NOISY)" if noisy(s) else ""
            check(f"{name} streams/s c=50 >= 600", f"{s['throughput']:.0f}{note}", ok)
        lat = out["latency_c1"]
        if lat.get("added_p50_ms") is not None:
            ok = (
                lat["added_p50_ms"] <= TARGETS["added_p50_ms"]
                and lat["added_p99_ms"] <= TARGETS["added_p99_ms"]
            )
            check(
                f"{name} added p50/p99 <= 1.5/3 ms",
                f"{lat['added_p50_ms']:.2f}/{lat['added_p99_ms']:.2f}",
                ok,
            )
        t = out["ttft_c1"]
        if t.get("added_p50_ms") is not None:
            check(
                f"{name} added TTFT p50 <= 1 ms",
                f"{t['added_p50_ms']:.2f}",
                t["added_p50_ms"] <= TARGETS["added_ttft_p50_ms"],
            )
    slow = primary.get("slow_streams")
    if slow:
        enough = slow["streams"] >= TARGETS["slow_streams"]
        # Held means open at the same time: a gateway that queues streams behind a connection
        # pool limit has no errors but does not hold them (their first token comes late).
        held = slow["max_open"] >= 0.98 * slow["streams"]
        peak = slow.get("gateway_peak_rss_mb") or 0
        ok = not slow["errors"] and held and peak <= TARGETS["slow_peak_rss_mb"]
        check(
            f"{TARGETS['slow_streams']} slow streams held at once, 0 errors, peak RSS <= 1 GiB",
            f"N={slow['streams']} open at once={slow['max_open']} errors={slow['errors']} "
            f"peak={peak} MB TTFT p99={_f(slow['ttft_ms']['p99'], '{:.0f}')} ms",
            ok if enough else None,
        )
    idle = primary.get("memory", {}).get("rss_idle_mb")
    if idle is not None:
        check(
            "idle RSS per worker <= 150 MB (all three SDKs)",
            f"{idle} MB",
            idle <= TARGETS["idle_rss_mb"],
        )
    one = results.get("one_vendor_memory") or {}
    if one.get("rss_idle_mb") is not None:
        check(
            "idle RSS per worker <= 150 MB (one SDK: openai)",
            f"{one['rss_idle_mb']} MB",
            one["rss_idle_mb"] <= TARGETS["idle_rss_mb"],
        )
    scaling = results.get("scaling", {})
    check(
        "two workers >= 1.8x one",
        scaling.get("note", "-")[:60]
        if not scaling.get("measured")
        else f"{scaling.get('ratio')}x",
        scaling.get("ok"),
    )
    return rows


def render(results: dict) -> str:
    meta = results["meta"]
    cal = results.get("calibration", {})
    v = meta["versions"]
    lines = [
        f"# Gateway benchmark ({results['plan']['name']}), {results['started']}",
        f"python {meta['python']}, Django {v['Django']}, uvicorn {v['uvicorn']}, granian "
        f"{v['granian']}, openai {v['openai']}, anthropic {v['anthropic']}, google-genai "
        f"{v['google-genai']}; {meta['cpu']} x{meta['nproc']}; db {meta.get('database')}",
        f"gateway on cpu {meta['gateway_cpus']}, fake upstream + load on cpu {meta['rig_cpus']}"
        f"; background busy before start {meta['background_busy_pct']}",
    ]
    if cal:
        lines.append(
            f"load generator: {cal['generator']} (ceiling vs fake alone c=50: "
            f"{cal['requests_c50']['throughput']:.0f} req/s); streams: bench.loadgen "
            f"(ceiling c=50: {cal['streams_c50']['throughput']:.0f} streams/s)"
        )
    for cfg in results.get("configs", []):
        lines.append(render_config(cfg))
    if results.get("floor"):
        lines.append("\n" + floor_line(results["floor"]))
    if results.get("scaling", {}).get("measured"):
        sc = results["scaling"]
        lines.append(
            f"\ntwo workers vs one ({sc['server']}, {sc['provider']}, c=100): "
            f"{sc['workers_1']['throughput']:.0f} -> {sc['workers_2']['throughput']:.0f}"
            f" req/s, x{sc['ratio']}"
        )
    lines.append("\n### Command lines")
    lines += [f"  {c}" for c in results.get("commands", [])]
    rows = targets(results)
    if rows:
        lines += ["\n### Targets (primary configuration)", _table(["target", "measured", ""], rows)]
    return "\n".join(lines)
