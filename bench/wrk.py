"""Non-streaming load from ``wrk`` (Debian's wrk 4.x), when it is installed.

wrk is C with an event loop per thread: one thread on one core drives far more than a Python
gateway can serve, so it is preferred for non-streaming windows. A Lua script sets the POST body
and headers and prints the summary as one JSON line, which :func:`parse` reads. The result has the
same shape as bench.loadgen's ``requests`` mode.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

MARK = "WRKJSON "

SCRIPT = r"""
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d,' ..
    '"mean":%%f,"p50":%%d,"p90":%%d,"p99":%%d,"max":%%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "wrk (unknown version)"


def script(body: str, headers: dict[str, str]) -> str:
    lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return SCRIPT % {"body": body, "headers": lines, "mark": MARK}


def command(url: str, script_path: Path, concurrency: int, duration: float) -> list[str]:
    return [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(script_path),
        url,
    ]


def parse(output: str, concurrency: int, duration: float, warmup: float) -> dict:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    s = json.loads(line[len(MARK) :])
    seconds = s["duration_us"] / 1e6
    errors = {k: s[k] for k in ("connect", "read", "write", "status", "timeout") if s[k]}
    failed = s["status"] + s["timeout"] + s["connect"] + s["read"] + s["write"]
    ok = max(0, s["requests"] - s["status"])

    def ms(us: float) -> float:
        return round(us / 1000, 3)

    return {
        "mode": "requests",
        "concurrency": concurrency,
        "duration_s": round(seconds, 3),
        "warmup_s": warmup,
        "completed": ok,
        "throughput": round(ok / seconds, 1) if seconds else 0.0,
        "errors": failed,
        "error_kinds": errors,
        # wrk reports latency over every response (HdrHistogram, microsecond resolution).
        "latency_ms": {
            "n": s["requests"],
            "mean": ms(s["mean"]),
            "p50": ms(s["p50"]),
            "p90": ms(s["p90"]),
            "p99": ms(s["p99"]),
            "max": ms(s["max"]),
        },
    }


def write_script(body: str, headers: dict[str, str], directory: Path | None = None) -> Path:
    with tempfile.NamedTemporaryFile(
        "w", suffix=".lua", prefix="wrk-", dir=directory, delete=False
    ) as handle:
        handle.write(script(body, headers))
    return Path(handle.name)
