"""What the results must say about where they were measured: versions, machine, background load,
database; and the gateway's one-off setup (migrate, bench user, JWT)."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench import wrk
from bench.procs import core_busy, core_times

PACKAGES = (
    "Django",
    "djangorestframework",
    "djangorestframework-simplejwt",
    "uvicorn",
    "granian",
    "uvloop",
    "httptools",
    "aiohttp",
    "httpx2",
    "openai",
    "anthropic",
    "google-genai",
    "orjson",
    "psycopg",
    "py-spy",
)


def collect(generator: str) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "versions": versions,
        "load_generator": generator,
        "wrk": wrk.version() if wrk.available() else None,
        "hey": shutil.which("hey"),
    }


def background_busy(seconds: float = 1.0) -> dict[str, float]:
    """How busy each core is before we start anything (other people's processes)."""
    before = core_times()
    time.sleep(seconds)
    return core_busy(before, core_times())


def wait_quiet(timeout: float, log) -> dict[str, float]:
    """Background busy per core, after waiting up to ``timeout`` s for all to be under 10%."""
    deadline = time.monotonic() + timeout
    busy = background_busy()
    while max(busy.values(), default=0) >= 10 and time.monotonic() < deadline:
        log.say(f"waiting for a quiet machine: {busy}")
        time.sleep(5)
        busy = background_busy()
    return busy


def postgres_database(name: str) -> str | None:
    """``postgres://postgres@127.0.0.1:5432/<name>``, created if missing; None if unreachable."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def _setup_script(root: Path, env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(root / "bench" / "gateway_setup.py"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"gateway setup failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def setup_gateway(root: Path, env: dict[str, str], *args: str) -> tuple[str, dict]:
    data = _setup_script(root, env, *args)
    return data["token"], data


def usage_rows(root: Path, env: dict[str, str]) -> int | str | None:
    try:
        return _setup_script(root, env, "--count-usage")["usage_rows"]
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return f"unavailable: {str(exc)[-300:]}"


def scaling_note(nproc: int) -> dict:
    if nproc >= 4:
        return {"measured": False, "note": "measured in --full mode only"}
    return {
        "measured": False,
        "note": f"two workers on two cores need >= 4 cores (2 for the gateway, the rest for "
        f"the fake upstream and the load generator); this machine has {nproc}",
    }
