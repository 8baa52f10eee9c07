"""The ``google-genai`` SDK's private parts the gateway uses, checked once at import.

google-genai has a supported raw mode only for non-streaming calls; its streams always build a
typed ``GenerateContentResponse`` per chunk (about 0.4 ms of CPU a chunk, more than the rest of
the gateway). So :mod:`ai.providers.gemini` calls the SDK's request layer directly: the client's
``_api_client`` (a ``BaseApiClient``), its ``async_request`` (non-streaming),
``_build_request`` + ``_async_request(stream=True)`` (streaming, reading the body of the
``HttpResponse.response_stream`` itself). That is the "raw" wire. When a check fails
(``RAW_WIRE_OK`` is False) a warning is logged once and the provider uses the SDK's public typed
API instead (the "typed" wire). ``tests/compat/test_genai.py`` fails when a check does.
"""

from __future__ import annotations

from typing import Any

from google import genai

from ai._compat._checks import assigned_in_init, first_problem, report, run, takes


def check() -> str | None:
    """``None`` if everything the raw wire uses is there, in the expected shape."""
    try:
        from google.genai._api_client import BaseApiClient, HttpResponse
    except ImportError:
        return "google.genai._api_client.BaseApiClient / HttpResponse are gone"
    return first_problem(
        assigned_in_init(genai.Client, "_api_client"),
        takes(BaseApiClient, "async_request", ("http_method", "path", "request_dict")),
        takes(BaseApiClient, "_build_request", ("http_method", "path", "request_dict")),
        takes(BaseApiClient, "_async_request", ("http_request", "stream")),
        assigned_in_init(HttpResponse, "response_stream"),
    )


PROBLEM = run(check)
RAW_WIRE_OK: bool = report("google-genai", PROBLEM, "its public typed API")


def api_client(client: genai.Client) -> Any | None:
    """The client's request layer for the raw wire, or None to use the typed API."""
    if not RAW_WIRE_OK:
        return None
    return getattr(client, "_api_client", None)


async def post(api: Any, path: str, body: dict[str, Any]) -> Any:
    """``POST path`` with a camelCase JSON ``body``; the SDK's ``SdkHttpResponse`` (``.body``
    is the text). Status errors raise as ``google.genai.errors.APIError``."""
    return await api.async_request("post", path, body)


async def post_stream(api: Any, path: str, body: dict[str, Any]) -> Any:
    """``POST path`` for a streamed answer; the open body (an ``httpx2.Response`` or an aiohttp
    ``ClientResponse``, by transport) for the caller to read and close. Status errors raise as
    ``google.genai.errors.APIError`` (the SDK reads the error body itself)."""
    request = api._build_request("post", path, body, None)
    response = await api._async_request(http_request=request, stream=True)
    return response.response_stream
