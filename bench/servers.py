"""The gateway under the production ASGI servers, and the fake upstream, as child processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.procs import Service, free_port, pinned, wait_port

APP = "gateway_project.asgi:application"
BACKLOG = 4096  # = net.core.somaxconn on the reference machine; both servers default lower


def server_command(server: str, port: int, workers: int = 1, app: str = APP) -> list[str]:
    """The exact server command line (without taskset)."""
    if server == "uvicorn":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            str(BACKLOG),
            "--timeout-keep-alive",
            "120",
        ]
        # Without --workers uvicorn serves in the process it was started as (no supervisor).
        return cmd + (["--workers", str(workers)] if workers > 1 else [])
    if server == "granian":
        granian = str(Path(sys.executable).with_name("granian"))
        return [
            granian,
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--backlog",
            str(BACKLOG),
            # Default backpressure is backlog/workers concurrent requests per worker; the
            # slow-streams test holds thousands at once.
            "--backpressure",
            "16384",
            app,
        ]
    raise ValueError(f"unknown server {server!r}")


def start_gateway(
    root: Path,
    tmp: Path,
    server: str,
    env: dict[str, str],
    cpus: str | None,
    workers: int = 1,
    tag: str = "",
    app: str = APP,
) -> tuple[Service, int]:
    port = free_port()
    cmd = pinned(server_command(server, port, workers, app), cpus)
    service = Service(
        f"gateway-{server}", cmd, {**os.environ, **env}, tmp / f"gateway-{server}{tag}.log"
    ).start(root)
    try:
        wait_port(port, 60, service.proc)
    except RuntimeError as exc:
        service.stop()
        raise RuntimeError(f"{server} did not start: {exc}\n{service.tail()}") from exc
    if workers > 1 or server == "granian":
        # Forked workers bind/accept after the parent listens: wait until all exist.
        deadline = time.monotonic() + 30
        while len(service.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    return service, port


def start_fake(root: Path, tmp: Path, cpus: str | None, chunks: int) -> tuple[Service, int]:
    port = free_port()
    cmd = pinned(
        [
            sys.executable,
            "-m",
            "tests.fake_upstream",
            "--port",
            str(port),
            "--chunks",
            str(chunks),
            "--no-capture",
        ],
        cpus,
    )
    service = Service("fake-upstream", cmd, dict(os.environ), tmp / "fake-upstream.log")
    service.start(root)
    try:
        wait_port(port, 30, service.proc)
    except RuntimeError as exc:
        service.stop()
        raise RuntimeError(f"fake upstream did not start: {exc}\n{service.tail()}") from exc
    return service, port
