"""openai / anthropic requests built by the SDK once per client and endpoint, sent many times.

Both SDKs (Stainless-generated ``AsyncAPIClient``) build every call from scratch: a pydantic
options object copied twice, headers merged from four sources, the base URL parsed and joined,
an ``httpx2.Request`` built, a retry loop entered. For one endpoint of one client none of that
changes between calls but the body. Client CPU per call against the fake upstream (c=50, aiohttp
transport, this machine): ``client.post`` 517 µs; the same request built once and re-sent
through the SDK's own HTTP client 241 µs; raw aiohttp 96 µs.

So :func:`sdk_post` has the SDK build the request once (URL, auth, version, platform and timeout
headers, the timeout extension), then sends a copy with each call's body through the SDK's HTTP
client, and raises what ``client.post(..., max_retries=0)`` raises: the SDK's own status error,
``APITimeoutError`` or ``APIConnectionError``. The wire is the SDK's, header for header (tests
compare both routes on the fake upstream). The SDK internals this takes are behind
:mod:`ai._compat.openai` / :mod:`ai._compat.anthropic`.

``client.post`` (the public path) is used instead when the guard's checks failed, and for any
client whose requests vary per call: per-call credentials (a callable ``api_key``, Azure AD
tokens, Anthropic ``credentials``), a class with its own request hooks (``AsyncAzureOpenAI``).
A template is rebuilt when the client's credentials attributes change.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import httpx2

from ai._compat._stainless import PreparedRequests

#: What ``sdk_post`` keeps per client: endpoint path -> template (or None: use client.post).
_templates: weakref.WeakKeyDictionary[Any, dict[str, _Template | None]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class _Template:
    method: str
    url: httpx2.URL
    #: Copied by ``httpx2.Request`` (a list copy, where a tuple of pairs is normalized anew).
    headers: httpx2.Headers
    extensions: dict[str, Any]
    #: The client's credential attributes when the template was built (compared by identity).
    credentials: tuple[object, ...]


async def sdk_post(
    client: Any,
    guard: PreparedRequests,
    path: str,
    body: bytes,
    *,
    stream: bool,
    options: dict[str, Any] | None = None,
) -> httpx2.Response:
    """``client.post(path, cast_to=httpx2.Response, content=body, options=options,
    stream=stream)`` for a client built with ``max_retries=0``, at half the CPU. ``guard`` is
    the SDK's :class:`~ai._compat._stainless.PreparedRequests` (``ai._compat.openai.PREPARED``
    or ``ai._compat.anthropic.PREPARED``)."""
    per_client = _templates.get(client)
    if per_client is None:
        per_client = _templates[client] = {}
    template = per_client.get(path, _UNBUILT)
    if template is _UNBUILT or (template is not None and _stale(template, guard, client)):
        template = per_client[path] = await _build(client, guard, path, options or {})
    if template is None:
        return await client.post(
            path, cast_to=httpx2.Response, content=body, options=options or {}, stream=stream
        )
    request = httpx2.Request(
        template.method,
        template.url,
        headers=template.headers,
        content=body,
        extensions=template.extensions,  # copied by Request
    )
    sdk = guard.sdk
    try:
        response = await guard.send(client, request, stream)
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(request=request) from exc
    except Exception as exc:
        raise sdk.APIConnectionError(request=request) from exc
    if not response.is_success:
        # As the SDK does: read the body (a stream's too) so the error carries it.
        if not response.is_closed:
            await response.aread()
        raise guard.status_error(client, response) from None
    return response


_UNBUILT: Any = object()


def _stale(template: _Template, guard: PreparedRequests, client: Any) -> bool:
    for name, then in zip(guard.credentials, template.credentials, strict=True):
        if getattr(client, name, None) is not then:
            return True
    return False


async def _build(
    client: Any, guard: PreparedRequests, path: str, options: dict[str, Any]
) -> _Template | None:
    if not guard.usable(client):
        return None
    credentials = guard.credentials_of(client)
    built = await guard.build(client, path, options)
    return _Template(
        method=built.method,
        url=built.url,
        # Content-Length is the per-call body's; httpx2 sets it again for each request.
        headers=httpx2.Headers(
            [(k, v) for k, v in built.headers.raw if k.lower() != b"content-length"]
        ),
        extensions=dict(built.extensions),
        credentials=credentials,
    )
