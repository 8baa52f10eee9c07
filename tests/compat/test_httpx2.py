"""ai._compat.httpx2: the httpx2 internals behind LeanSend (httpx2's send, minus the layers an
unconfigured client skips) are there on the installed release; when they are not, LeanSend is
httpx2's own send."""

from __future__ import annotations

import importlib
import logging

import httpx2
import openai
import orjson
import pytest

from ai._compat import httpx2 as httpx2_compat
from ai._compat.httpx2 import LeanSend


class Lean(LeanSend, httpx2.AsyncClient):
    pass


class LeanAio(LeanSend, openai.DefaultAioHttpClient):
    pass


BODY = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture(params=[Lean, LeanAio], ids=["httpx2", "aiohttp"])
def client_class(request):
    return request.param


def _request(fake_upstream) -> httpx2.Request:
    return httpx2.Request(
        "POST",
        f"{fake_upstream.openai_base_url}/chat/completions",
        headers={"authorization": "Bearer test-fake-key", "content-type": "application/json"},
        content=BODY,
    )


async def test_plain_and_streamed_responses(client_class, fake_upstream):
    async with client_class(follow_redirects=False) as client:
        response = await client.send(_request(fake_upstream))
        assert response.status_code == 200
        assert orjson.loads(response.content)["choices"][0]["message"]["content"]
        assert response.request.url.path == "/v1/chat/completions"

        streamed = await client.send(_request(fake_upstream), stream=True)
        assert not streamed.is_stream_consumed
        assert orjson.loads(await streamed.aread())["object"] == "chat.completion"
        await streamed.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.send(_request(fake_upstream))


async def test_a_client_with_hooks_or_redirects_takes_httpx2s_path(client_class, fake_upstream):
    seen = []

    async def hook(response):
        seen.append(response.status_code)

    async with client_class(follow_redirects=False, event_hooks={"response": [hook]}) as client:
        await client.send(_request(fake_upstream))
    async with client_class(follow_redirects=True) as client:
        response = await client.send(_request(fake_upstream))
    assert seen == [200]
    assert response.status_code == 200
    assert response.elapsed.total_seconds() > 0  # set only by httpx2's own send


# -- the guard ---------------------------------------------------------------------------------


def test_checks_pass_on_the_installed_httpx2():
    assert httpx2_compat.PROBLEM is None, httpx2_compat.PROBLEM
    assert httpx2_compat.LEAN_SEND_OK


def test_a_changed_internal_turns_lean_send_off_with_one_warning(monkeypatch, caplog):
    def _set_timeout(self, timeout):  # a release that renamed the parameter
        pass

    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "ai.compat"):
            patched.setattr(httpx2.AsyncClient, "_set_timeout", _set_timeout)
            module = importlib.reload(httpx2_compat)
            assert not module.LEAN_SEND_OK
            assert "_set_timeout no longer takes request" in module.PROBLEM
    finally:
        module = importlib.reload(httpx2_compat)
    assert module.LEAN_SEND_OK
    [warning] = [r for r in caplog.records if r.name == "ai.compat"]
    assert "httpx2" in warning.getMessage() and "AsyncClient.send" in warning.getMessage()


async def test_without_lean_send_requests_take_httpx2s_send(
    client_class, fake_upstream, monkeypatch
):
    monkeypatch.setattr(httpx2_compat, "LEAN_SEND_OK", False)
    async with client_class(follow_redirects=False) as client:
        response = await client.send(_request(fake_upstream))
        streamed = await client.send(_request(fake_upstream), stream=True)
        assert orjson.loads(await streamed.aread())["object"] == "chat.completion"
        await streamed.aclose()
    assert response.status_code == 200
    assert response.elapsed.total_seconds() > 0  # set only by httpx2's own send
