"""The ``openai`` SDK's private parts the gateway uses, checked once at import.

* :data:`PREPARED`: what :func:`ai.providers._prepared.sdk_post` needs to build a request once
  per client and endpoint and re-send it (see :mod:`ai._compat._stainless`). When
  ``PREPARED_REQUESTS_OK`` is False every call goes through the public ``client.post()``.
* ``_custom_headers`` / ``_ambient_authorizations``: filled by the constructor from
  ``OPENAI_CUSTOM_HEADERS`` and ambient credentials, reset by :func:`forget_environment`.

Per-call credentials keep working because such clients are never prepared: a callable
``api_key`` (``_api_key_provider``), ``provider=`` runtimes, workload identity, and any client
class that overrides a request hook (``AsyncAzureOpenAI``: ``api-key`` header,
``azure_ad_token_provider``). ``tests/compat/test_openai.py`` fails when a check does.
"""

from __future__ import annotations

from typing import Any

import openai

from ai._compat._stainless import PreparedRequests

PREPARED = PreparedRequests(
    openai,
    openai.AsyncOpenAI,
    per_call=("_api_key_provider", "_provider_runtime", "_workload_identity_auth"),
    credentials=("api_key", "admin_api_key", "organization", "project"),
    environment={"_custom_headers": dict, "_ambient_authorizations": frozenset},
    probe={"api_key": "probe", "base_url": "http://probe.invalid/v1"},
)
PREPARED_REQUESTS_OK: bool = PREPARED.ok


def forget_environment(client: Any) -> None:
    PREPARED.forget_environment(client)
