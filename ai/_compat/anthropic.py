"""The ``anthropic`` SDK's private parts the gateway uses, checked once at import.

* :data:`PREPARED`: what :func:`ai.providers._prepared.sdk_post` needs to build a request once
  per client and endpoint and re-send it (see :mod:`ai._compat._stainless`). When
  ``PREPARED_REQUESTS_OK`` is False every call goes through the public ``client.post()``.
* ``_custom_headers``: filled by the constructor from ``ANTHROPIC_CUSTOM_HEADERS``, reset by
  :func:`forget_environment`.

Clients with per-call credentials (``credentials=`` token providers, middleware, a subclass that
overrides a request hook) are never prepared. ``tests/compat/test_anthropic.py`` fails when a
check does.
"""

from __future__ import annotations

from typing import Any

import anthropic

from ai._compat._stainless import PreparedRequests

PREPARED = PreparedRequests(
    anthropic,
    anthropic.AsyncAnthropic,
    per_call=("_token_cache", "credentials", "middleware"),
    credentials=("api_key", "auth_token"),
    environment={"_custom_headers": dict},
    probe={"api_key": "probe", "base_url": "http://probe.invalid", "open_telemetry": False},
)
PREPARED_REQUESTS_OK: bool = PREPARED.ok


def forget_environment(client: Any) -> None:
    PREPARED.forget_environment(client)
