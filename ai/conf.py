"""The app's settings, read from Django settings at call time.

Every name below is a top-level Django setting (the spec's contract: ``AI_DEFAULT_PROVIDER``,
``OPENAI_API_KEY`` ...). ``ai_settings.NAME`` returns the host's value or the default here, and
is looked up on every access, so ``override_settings`` in tests and per-process env changes are
always seen. Nothing is read at import time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Which provider / model answer when a request names neither.
    "AI_DEFAULT_PROVIDER": "openai",
    "AI_DEFAULT_MODEL": "gpt-4o",
    # Credentials. Never logged, never shown by any endpoint or admin page.
    "OPENAI_API_KEY": None,
    "ANTHROPIC_API_KEY": None,
    "GOOGLE_API_KEY": None,
    # Upstream base URLs (None = the vendor's public endpoint). OpenAI's includes /v1;
    # Anthropic's and Gemini's do not (their SDKs add the version to the path).
    "OPENAI_BASE_URL": None,
    "ANTHROPIC_BASE_URL": None,
    "GOOGLE_GEMINI_BASE_URL": None,
    "GOOGLE_GEMINI_API_VERSION": "v1beta",
    # The offline provider: deterministic, no network. For development and host projects' tests.
    "AI_OFFLINE_ENABLED": False,
    "AI_OFFLINE_DELAY_MS": 0,
    # Per upstream attempt, in seconds.
    "AI_REQUEST_TIMEOUT": 60.0,
    # The gateway owns retries (the SDKs are built with max_retries=0).
    "AI_MAX_RETRIES": 2,
    "AI_RETRY_BACKOFF_MS": 250,
    "AI_RETRY_MAX_WAIT_S": 10.0,
    # Try the route's next target when one fails with a retryable error.
    "AI_FALLBACKS_ENABLED": True,
    # Request bounds, enforced before anything reaches an upstream.
    "AI_MAX_TOKENS_LIMIT": 32768,
    "AI_MAX_MESSAGES": 500,
    "AI_MAX_BODY_BYTES": 1_048_576,
    # HTTP transport under the SDKs: "aiohttp" (measured about twice as cheap per call as
    # httpx2 under concurrency, see README "Performance") or "httpx2" (the SDKs' own default).
    "AI_HTTP_TRANSPORT": "aiohttp",
    # Connections per provider and process (streams in flight need one each); all may stay open.
    "AI_HTTP_MAX_CONNECTIONS": 10_000,
    # Usage ledger.
    "AI_USAGE_ENABLED": True,
    "AI_USAGE_FLUSH_INTERVAL_MS": 200,
    "AI_USAGE_BATCH_SIZE": 500,
    # How long the router keeps routes read from the database, in seconds.
    "AI_ROUTES_CACHE_SECONDS": 5.0,
    # At ASGI startup (ai.asgi), move every object alive into the garbage collector's permanent
    # generation: full collections then skip the ~1M objects of Django and the SDKs.
    "AI_GC_FREEZE": True,
}


class AISettings:
    """Attribute access to the app's settings, always current."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown ai setting: {name!r}")
        return getattr(settings, name, DEFAULTS[name])


ai_settings = AISettings()
