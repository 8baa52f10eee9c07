"""Issue 13: the gateway under a WSGI server (``runserver``, gunicorn's sync workers), here
wsgiref's server in a thread serving Django's WSGI handler. Streams arrive whole and are
recorded as they ended; ``check`` says to use an ASGI server."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx2
import pytest
from django.core import checks
from django.core.wsgi import get_wsgi_application

from ai.usage.events import STATUS_OK
from tests.api.conftest import CHAT
from tests.api.sse_client import parse_sse, split_stream

pytestmark = pytest.mark.django_db(transaction=True)


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):  # one thread per connection
        thread = threading.Thread(target=self._serve, args=(request, client_address), daemon=True)
        thread.start()

    def _serve(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def wsgi_url(transactional_db):
    server = make_server(
        "127.0.0.1",
        0,
        get_wsgi_application(),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def http(wsgi_url, token):
    with httpx2.Client(
        base_url=wsgi_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        yield client


def _stream(http, body: dict) -> tuple[bytes, httpx2.Response]:
    with http.stream("POST", CHAT, json={**body, "stream": True}) as response:
        return response.read(), response


def test_stream_arrives_whole_under_wsgi(http, usage_events):
    prompt = "one two three four five six seven eight"
    plain = http.post(CHAT, json={"prompt": prompt})
    assert plain.status_code == 200, plain.text
    raw, response = _stream(http, {"prompt": prompt})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    deltas, done, finished, error = split_stream(parse_sse(raw))
    assert error is None and finished
    assert "".join(deltas) == plain.json()["content"]
    assert len(deltas) > 5
    assert done["usage"]["source"] != "estimated"  # the upstream's own count: it ended
    streamed = [e for e in usage_events if e.streamed]
    assert [e.status for e in streamed] == [STATUS_OK]
    assert streamed[0].usage == plain_usage(usage_events)


def plain_usage(usage_events):
    return next(e.usage for e in usage_events if not e.streamed)


def test_openai_compatible_stream_arrives_whole_under_wsgi(http, usage_events):
    body = {
        "model": "offline-echo",
        "messages": [{"role": "user", "content": "alpha beta gamma delta epsilon zeta"}],
        "stream": True,
    }
    with http.stream("POST", "/api/v1/openai/chat/completions", json=body) as response:
        raw = response.read()
    assert response.status_code == 200
    chunks = [frame.json() for frame in parse_sse(raw) if frame.data != "[DONE]"]
    assert parse_sse(raw)[-1].data == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.endswith("alpha beta gamma delta epsilon zeta")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert [e.status for e in usage_events] == [STATUS_OK]


def test_check_warns_without_asgi_application(settings):
    settings.ASGI_APPLICATION = None
    assert "ai.W020" in {m.id for m in checks.run_checks()}
    settings.ASGI_APPLICATION = "myproject.asgi.application"
    assert "ai.W020" not in {m.id for m in checks.run_checks()}
