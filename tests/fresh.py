"""Run Python code in a fresh interpreter on the tests' settings (what a new process sees)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env: str) -> str:
    """``code`` run by ``python -c`` in the project directory with DJANGO_SETTINGS_MODULE =
    tests.settings and only ``env`` added (none of this process's environment); its stdout."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin", **env},
        cwd=str(ROOT),
    ).stdout


# --- gateway processes sharing this test's PostgreSQL and Redis ------------------------------

#: Skip unless the database and cache can be shared with another process (CI's second pass).
needs_shared_services = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs a database and a Redis two processes can share (CI: PostgreSQL + Redis)",
)

_SERVE = (
    "import sys, django; django.setup();"
    "import uvicorn;"
    "from ai.asgi import gateway_application;"
    "uvicorn.run(gateway_application(), host='127.0.0.1', port=int(sys.argv[1]),"
    " log_level='warning', lifespan='on')"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shared_env() -> dict[str, str]:
    """DATABASE_URL (pytest-django's test database, not the one named in the environment) and
    REDIS_URL, for another process to share this test's state."""
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    test_db = connection.settings_dict["NAME"]
    return {
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{test_db}")),
        "REDIS_URL": os.environ["REDIS_URL"],
    }


@contextlib.contextmanager
def gateway_process(settings_module: str = "tests.settings", **extra_env: str) -> Iterator[str]:
    """A real uvicorn gateway in a fresh interpreter on :func:`shared_env` (and ``extra_env``,
    e.g. the providers' keys and base URLs); yields its URL."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": settings_module,
        **shared_env(),
        **extra_env,
    }
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], env=env, cwd=str(ROOT))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_module(home: Path, *args: str) -> str:
    """``python -m *args`` in the project directory with a bare environment (a bench script's
    smoke test); its stdout, failing with its stderr when it exits non-zero."""
    out = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout
