"""The host project's settings applied to the running test process (override_settings), its
receiver connected, and the gateway served by a real uvicorn built under them."""

from __future__ import annotations

import httpx2
import pytest
from django.core import signals

from tests.api.conftest import _fresh_state, usage_events  # noqa: F401  (shared fixtures)
from tests.api.live import LiveGateway
from tests.host import app as host_app
from tests.host import settings as host_settings_module

HOST_SETTINGS = ("ROOT_URLCONF", "MIDDLEWARE", "REST_FRAMEWORK", "ASGI_APPLICATION")


@pytest.fixture
def host_settings(settings):
    for name in HOST_SETTINGS:
        setattr(settings, name, getattr(host_settings_module, name))
    return settings


@pytest.fixture
def audit():
    host_app.AUDIT.clear()
    signals.request_started.connect(host_app.audit_request)
    yield host_app.AUDIT
    signals.request_started.disconnect(host_app.audit_request)


@pytest.fixture
def serve(host_settings, audit, transactional_db):
    """``serve(api_middleware)``: the host's gateway_application under uvicorn, with
    AI_API_MIDDLEWARE set to ``api_middleware`` (None: unset) while it is built."""
    servers: list[LiveGateway] = []

    def start(api_middleware: list[str] | None) -> LiveGateway:
        host_settings.AI_API_MIDDLEWARE = api_middleware
        server = LiveGateway().start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def http_for(token):
    """``http_for(server)``: an HTTP client for ``server`` that sends the user's token."""
    clients: list[httpx2.AsyncClient] = []

    def make(server: LiveGateway) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
