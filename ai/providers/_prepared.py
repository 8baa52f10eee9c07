"""openai / anthropic requests built by the SDK once per client and endpoint, sent many times.

Both SDKs (Stainless-generated ``AsyncAPIClient``) build every call from scratch: a pydantic
options object copied twice, headers merged from four sources, the base URL parsed and joined,
an ``httpx2.Request`` built, a retry loop entered. For one endpoint of one client none of that
changes between calls but the body. Client CPU per call against the fake upstream (c=50, aiohttp
transport, this machine): ``client.post`` 517 µs; the same request built once and re-sent
through the SDK's own HTTP client 241 µs; raw aiohttp 96 µs.

So :func:`sdk_post` has the SDK build the request once (``_build_request``: URL, auth, version,
platform and timeout headers, the timeout extension), then sends a copy with each call's body
through the SDK's HTTP client, and raises what ``client.post(..., max_retries=0)`` raises: the
SDK's own status error (``_make_status_error_from_response``), ``APITimeoutError`` or
``APIConnectionError``. The wire is the SDK's, header for header (tests compare both routes on
the fake upstream). A client whose requests vary per call (custom auth) goes through
``client.post`` as before.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx2

#: What ``sdk_post`` keeps per client: endpoint path -> template (or None: use client.post).
_templates: weakref.WeakKeyDictionary[Any, dict[str, _Template | None]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class _Template:
    method: str
    url: httpx2.URL
    headers: tuple[tuple[bytes, bytes], ...]
    extensions: dict[str, Any]
    idempotency_header: str | None


async def sdk_post(
    client: Any,
    sdk: ModuleType,
    path: str,
    body: bytes,
    *,
    stream: bool,
    options: dict[str, Any] | None = None,
) -> httpx2.Response:
    """``client.post(path, cast_to=httpx2.Response, content=body, options=options,
    stream=stream)`` for a client built with ``max_retries=0``, at half the CPU. ``sdk`` is
    the SDK's package (``openai`` or ``anthropic``), for its exception classes."""
    per_client = _templates.get(client)
    if per_client is None:
        per_client = _templates[client] = {}
    if path in per_client:
        template = per_client[path]
    else:
        template = per_client[path] = await _build(client, sdk, path, options or {})
    if template is None:
        return await client.post(
            path, cast_to=httpx2.Response, content=body, options=options or {}, stream=stream
        )
    headers: Any = template.headers
    if template.idempotency_header:
        headers = (*headers, (template.idempotency_header, client._idempotency_key()))
    request = httpx2.Request(
        template.method,
        template.url,
        headers=headers,
        content=body,
        extensions=dict(template.extensions),
    )
    try:
        response = await client._client.send(request, stream=stream)
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(request=request) from exc
    except Exception as exc:
        raise sdk.APIConnectionError(request=request) from exc
    if not response.is_success:
        # As the SDK does: read the body (a stream's too) so the error carries it.
        if not response.is_closed:
            await response.aread()
        raise client._make_status_error_from_response(response) from None
    return response


async def _build(
    client: Any, sdk: ModuleType, path: str, options: dict[str, Any]
) -> _Template | None:
    per_call_auth = getattr(client, "_custom_auth", None)  # openai: auth chosen per security
    if client.custom_auth is not None or (
        per_call_auth is not None and per_call_auth(options.get("security")) is not None
    ):
        return None
    if client._platform is None:
        # As the SDK's request() does: platform detection may block, so off the loop, once.
        client._platform = await asyncio.to_thread(sdk._base_client.get_platform)
    final = sdk._models.FinalRequestOptions.construct(
        method="post", url=path, content=b"", **options
    )
    built: httpx2.Request = client._build_request(final)
    return _Template(
        method=built.method,
        url=built.url,
        # Content-Length is the per-call body's; httpx2 sets it again for each request.
        headers=tuple((k, v) for k, v in built.headers.raw if k.lower() != b"content-length"),
        extensions=dict(built.extensions),
        idempotency_header=client._idempotency_header,
    )
