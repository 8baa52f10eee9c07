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

from ai.conf import ai_settings
from ai.exceptions import AIError, UpstreamConnectionError, UpstreamTimeoutError

try:  # aiohttp is optional at run time; its errors only occur when it is the transport
    import aiohttp
except ImportError:  # pragma: no cover
    aiohttp = None  # type: ignore[assignment]


def pool_limits() -> httpx2.Limits:
    """Connection pool limits for every provider's HTTP client: ``AI_HTTP_MAX_CONNECTIONS``, all
    of which may be kept alive (a smaller keep-alive pool churns connections under load)."""
    size = int(ai_settings.AI_HTTP_MAX_CONNECTIONS)
    return httpx2.Limits(max_connections=size, max_keepalive_connections=size)


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
    """Our error for a raw transport exception (walking ``__cause__``), or None if it is not one."""
    seen: BaseException | None = exc
    while seen is not None:
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
        seen = seen.__cause__
    return None
