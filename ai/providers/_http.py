"""What every vendor module needs from the HTTP layer: Retry-After parsing and transport errors.

The SDKs wrap some transport failures and leak others raw (``httpx2.RemoteProtocolError``
mid-stream from anthropic and genai; aiohttp errors when that transport is used), so every
provider passes unknown exceptions through :func:`transport_error` before giving up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import orjson

from ai.conf import ai_settings
from ai.exceptions import AIError, UpstreamConnectionError, UpstreamTimeoutError
from ai.providers.deadlines import connect_timeout
from ai.redact import configured_secrets, redact

try:  # aiohttp is optional at run time; its errors only occur when it is the transport
    import aiohttp
except ImportError:  # pragma: no cover
    aiohttp = None  # type: ignore[assignment]


def sanitize(text: str, *secrets: object, limit: int = 500) -> str:
    """Upstream text fit for a client (the explanation of a 400, say): the configured keys and
    ``secrets`` removed, with anything key-shaped (``ai.redact``), at most ``limit`` characters."""
    # (a key may also be a callable that returns it: the openai SDK accepts one)
    given = [s for s in secrets if isinstance(s, str) and len(s) >= 4]
    return redact(text, sorted({*given, *configured_secrets()}, key=len, reverse=True))[:limit]


def pool_limits() -> httpx2.Limits:
    """Connection pool limits for every provider's HTTP client: ``AI_HTTP_MAX_CONNECTIONS``, all
    of which may be kept alive (a smaller keep-alive pool churns connections under load)."""
    size = int(ai_settings.AI_HTTP_MAX_CONNECTIONS)
    return httpx2.Limits(max_connections=size, max_keepalive_connections=size)


def json_body(data: Any) -> bytes:
    """``data`` as JSON bytes for an upstream request. orjson's bytes are copied to their
    exact size: orjson allocates about 4 KB for any output, and a streamed call's request body
    lives as long as its response (measured: 4.1 KB per open stream less)."""
    return bytes(memoryview(orjson.dumps(data)))


def client_timeout() -> httpx2.Timeout:
    """The SDK clients' timeout: connecting and writing are bounded here; reading is not, the
    gateway's own deadlines bound it (``ai.providers.deadlines``: first byte, then idle between
    deltas), which also saves the transport a timer per read."""
    total = float(ai_settings.AI_REQUEST_TIMEOUT)
    return httpx2.Timeout(total, connect=connect_timeout(), read=None)


def parse_retry_after(headers: Mapping[str, str] | Any | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    try:
        value = headers.get("retry-after-ms")
        if value:
            return max(0.0, float(value) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from datetime import datetime

            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, AttributeError):
        return None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, httpx2.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return True
    return aiohttp is not None and isinstance(exc, aiohttp.ServerTimeoutError)


def transport_error(exc: BaseException, provider: str, model: str | None) -> AIError | None:
    """Our error for a transport exception, or None if it is not one. Classified by the
    innermost recognised cause along ``__cause__``: the aiohttp adapter the openai SDK vendors
    maps every aiohttp connection error (refused, server disconnect) to ``httpx2.ConnectTimeout``,
    and the original exception underneath tells the truth."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 16:
        chain.append(seen)
        seen = seen.__cause__
    for seen in reversed(chain):
        if _is_timeout(seen):
            return UpstreamTimeoutError(
                f"{provider} did not answer in time.", provider=provider, model=model
            )
        if isinstance(seen, httpx2.TransportError) or (
            aiohttp is not None and isinstance(seen, aiohttp.ClientError)
        ):
            return UpstreamConnectionError(
                f"Connection to {provider} failed or was dropped ({type(seen).__name__}).",
                provider=provider,
                model=model,
            )
    return None
