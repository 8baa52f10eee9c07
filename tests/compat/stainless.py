"""What the openai and anthropic guard tests share: one provider conversation against the fake
upstream (a reply, a stream, a rate limit, an outage), and the requests it put on the wire."""

from __future__ import annotations

import pytest

from ai.exceptions import RateLimitedError, UpstreamUnavailableError
from ai.providers import _prepared
from tests.providers.conftest import open_provider

#: Headers that differ between any two requests.
VARYING = {"content-length", "x-stainless-retry-count"}


async def converse(name: str) -> tuple[list[tuple[object, float | None]], bool]:
    """What the provider answered: a reply, a stream, a 429 and a 503 (errors by class and
    ``retry_after``); and whether the calls went through a prepared request."""
    outcomes: list[tuple[object, float | None]] = []
    async with open_provider(name) as provider:
        outcomes.append((type((await provider.complete_simple("hi")).content).__name__, None))
        stream = provider.stream_simple("hi")
        outcomes.append(("".join([chunk async for chunk in stream]) and "streamed", None))
        for directive in ("status=429 retry_after=3", "status=503"):
            with pytest.raises((RateLimitedError, UpstreamUnavailableError)) as caught:
                await provider.complete_simple(f"[[fake:{directive}]]")
            outcomes.append((type(caught.value), caught.value.retry_after))
        templates = _prepared._templates.get(provider.client) or {}
    return outcomes, any(t is not None for t in templates.values())


def wire(fake_upstream) -> list[tuple[str, str, dict[str, str], object]]:
    """The captured requests, with the headers that vary per request left out."""
    return [
        (
            r.method,
            r.path,
            {k.lower(): v for k, v in r.headers.items() if k.lower() not in VARYING},
            r.body,
        )
        for r in fake_upstream.requests
    ]
