"""The ``httpx2`` private parts the gateway uses, checked once at import: :class:`LeanSend`.

``AsyncClient.send`` runs every request through auth flows, redirect handling, event hooks,
cookie extraction, a stream wrapper for ``elapsed`` and a log call; the gateway's clients
configure none of them (no auth: the SDK sets the key header; redirects off; no hooks or
cookies), and that plumbing cost about 70 µs a request (py-spy, 8 % of a gateway request).
:class:`LeanSend` hands such requests straight to the transport, using ``ClientState``,
``_set_timeout``, ``_transport``, ``_mounts``, ``_state`` and ``_default_encoding``. When a check
fails (``LEAN_SEND_OK`` is False) it logs once and every request takes httpx2's own ``send``.
``tests/compat/test_httpx2.py`` fails when a check does.
"""

from __future__ import annotations

from typing import Any

import httpx2

from ai._compat._checks import assigned_in_init, first_problem, has, report, run, takes


def check() -> str | None:
    """``None`` if everything :class:`LeanSend` uses is there, in the expected shape."""
    try:
        from httpx2._client import ClientState
    except ImportError:
        return "httpx2._client.ClientState is gone"
    return first_problem(
        has(ClientState, "OPENED", "CLOSED"),
        takes(httpx2.AsyncClient, "send", ("request", "stream", "auth", "follow_redirects")),
        takes(httpx2.AsyncClient, "_set_timeout", ("request",)),
        assigned_in_init(
            httpx2.AsyncClient, "_transport", "_mounts", "_state", "_default_encoding"
        ),
        has(httpx2.AsyncClient, "auth", "event_hooks", "cookies", "is_closed"),
        assigned_in_init(httpx2.AsyncClient, "follow_redirects"),
        has(httpx2.AsyncBaseTransport, "handle_async_request"),
    )


PROBLEM = run(check)
LEAN_SEND_OK: bool = report("httpx2", PROBLEM, "AsyncClient.send")
if LEAN_SEND_OK:
    from httpx2._client import ClientState

    OPENED = ClientState.OPENED


class LeanSend:
    """Mixin for the providers' ``httpx2.AsyncClient`` classes: ``send`` straight to the
    transport when the client has nothing for httpx2's layers to do (see the module docstring).
    Any client that does configure one of them takes httpx2's own path."""

    async def send(  # type: ignore[override]
        self,
        request: httpx2.Request,
        *,
        stream: bool = False,
        auth: Any = httpx2.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx2.USE_CLIENT_DEFAULT,
    ) -> httpx2.Response:
        client: Any = self
        if (
            not LEAN_SEND_OK
            or auth is not httpx2.USE_CLIENT_DEFAULT
            or follow_redirects is not httpx2.USE_CLIENT_DEFAULT
            or client.auth is not None
            or client.follow_redirects
            or client._mounts
            or client.cookies
            or client.event_hooks["request"]
            or client.event_hooks["response"]
        ):
            return await super().send(  # type: ignore[misc]
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        if client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        client._state = OPENED
        client._set_timeout(request)
        response = await client._transport.handle_async_request(request)
        response.request = request
        response.default_encoding = client._default_encoding
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response
