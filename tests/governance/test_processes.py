"""Two gateway processes sharing one Redis and one database enforce a single limit. Run when
REDIS_URL and DATABASE_URL are set (CI's second pass): each process is a real uvicorn serving
the tests' project, with a default limit of 10 requests a minute."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest
from django.db import connection

from tests.api.conftest import CHAT, STATUS
from tests.fresh import ROOT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="needs a database and a Redis two processes can share (CI: PostgreSQL + Redis)",
    ),
]

SERVE = (
    "import sys, django; django.setup();"
    "import uvicorn;"
    "from ai.asgi import gateway_application;"
    "uvicorn.run(gateway_application(), host='127.0.0.1', port=int(sys.argv[1]),"
    " log_level='warning', lifespan='on')"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def servers(transactional_db):
    parts = urlsplit(os.environ["DATABASE_URL"])
    test_db = connection.settings_dict["NAME"]  # pytest-django's test database
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.governance.server_settings",
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{test_db}")),
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen([sys.executable, "-c", SERVE, str(port)], env=env, cwd=str(ROOT))
        for port in ports
    ]
    yield [f"http://127.0.0.1:{port}" for port in ports]
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _ready(client: httpx2.AsyncClient, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if (await client.get(url + STATUS)).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway at {url} did not start")
        await asyncio.sleep(0.1)


async def test_two_processes_enforce_one_rpm_limit(servers, token):
    async with httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for url in servers:
            await _ready(client, url)
        responses = await asyncio.gather(
            *(
                client.post(servers[i % 2] + CHAT, json={"prompt": f"request {i}"})
                for i in range(20)
            )
        )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 10, statuses
    # Counted per process, each would have answered its 10.
    refused = [r for r in responses if r.status_code == 429]
    assert {r.headers["x-ratelimit-limit-requests"] for r in refused} == {"10"}
    assert all(r.json()["error"]["code"] == "rate_limit_exceeded" for r in refused)
