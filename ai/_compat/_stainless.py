"""The private parts of a Stainless-generated SDK (``openai``, ``anthropic``) that
:func:`ai.providers._prepared.sdk_post` uses, behind one check per SDK.

``sdk_post`` has the SDK build a request once per client and endpoint and re-sends copies of it.
For that it needs, from the SDK: ``_base_client.get_platform`` and the client's ``_platform``
(the platform headers, detected off the loop as the SDK does), ``_models.FinalRequestOptions``
and ``client._build_request`` (the request), ``client._client`` (the SDK's HTTP client) and
``client._make_status_error_from_response`` (the SDK's own status errors). Each is checked when
the guard is made: the names exist, the methods take the parameters passed, and a client built
against a dummy transport has the instance attributes. If any check fails, ``ok`` is False, a
warning is logged once and every call goes through the public ``client.post()``.

A client whose requests vary per call is never prepared either (:meth:`PreparedRequests.usable`):
one whose class overrides any of the SDK's request hooks (``AsyncAzureOpenAI``, a host's
subclass), or whose instance refreshes credentials per call (a callable ``api_key``, workload
identity, Anthropic ``credentials``, middleware).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx2

from ai._compat._checks import assigned_in_init, first_problem, has, logger, report, run, takes

#: The client's request hooks. A class that overrides one of them builds or sends requests its
#: own way (per-call auth, URL rewriting): such a client goes through ``client.post()``.
HOOKS = (
    "request",
    "_prepare_options",
    "_prepare_request",
    "_send_request",
    "_build_request",
    "_build_headers",
    "_auth_headers",
    "_custom_auth",
    "custom_auth",
    "auth_headers",
    "default_headers",
    "_prepare_url",
    "_make_status_error_from_response",
    "_make_status_error",
)
#: What ``FinalRequestOptions`` must accept (``sdk_post`` passes these, plus its ``options``).
OPTION_FIELDS = ("method", "url", "content", "headers")


def _refuse(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(599)


class PreparedRequests:
    """What ``sdk_post`` may do with one SDK: ``ok`` says whether the private path is there."""

    def __init__(
        self,
        sdk: ModuleType,
        client_class: type,
        *,
        per_call: tuple[str, ...],
        credentials: tuple[str, ...],
        environment: dict[str, Callable[[], object]],
        probe: dict[str, Any],
    ) -> None:
        self.sdk = sdk
        self.client_class = client_class
        #: Instance attributes that, when set, make the client's requests vary per call.
        self.per_call = per_call
        #: Public attributes holding the credentials a prepared request carries.
        self.credentials = credentials
        #: Private attributes the constructor fills from the environment, and their "none".
        self.environment = environment
        self._probe = probe
        self._hooks = {name: inspect.getattr_static(client_class, name, None) for name in HOOKS}
        self.problem = run(self.check)
        self.ok = report(sdk.__name__, self.problem, "client.post() for every call")

    def check(self) -> str | None:
        """``None`` if everything the private path uses is there, in the expected shape."""
        sdk, cls = self.sdk, self.client_class
        base = getattr(sdk, "_base_client", None)
        options = getattr(getattr(sdk, "_models", None), "FinalRequestOptions", None)
        problem = first_problem(
            has(sdk, "_base_client", "_models", "APITimeoutError", "APIConnectionError"),
            has(base, "get_platform"),
            takes(cls, "_build_request", ("options", "retries_taken")),
            takes(cls, "_make_status_error_from_response", ("response",)),
            assigned_in_init(cls, "_platform", "_client"),
            has(options, "construct", "model_fields"),
        )
        if problem:
            return problem
        lacking = [f for f in OPTION_FIELDS if f not in options.model_fields]
        if lacking:
            return f"FinalRequestOptions has no {', '.join(lacking)}"
        try:
            probe = cls(
                **self._probe,
                max_retries=0,
                http_client=httpx2.AsyncClient(
                    transport=httpx2.MockTransport(_refuse), trust_env=False
                ),
            )
        except Exception as exc:  # a constructor that changed: never fail the import
            return f"{cls.__name__}(...) could not be built as before ({type(exc).__name__})"
        problem = has(probe, "_client", "_platform", *self.per_call, *self.environment)
        if problem:
            return problem
        if not isinstance(probe._client, httpx2.AsyncClient):
            return f"{cls.__name__}._client is no longer the httpx2 client it was given"
        return None

    # -- what sdk_post calls -----------------------------------------------------------------

    def usable(self, client: Any) -> bool:
        """Whether ``client`` sends the same request (but the body) on every call: the SDK's
        own hooks, and no per-call credentials."""
        if not self.ok:
            return False
        cls = type(client)
        if any(inspect.getattr_static(cls, n, None) is not h for n, h in self._hooks.items()):
            return False
        return client.custom_auth is None and not any(
            getattr(client, name, None) for name in self.per_call
        )

    def credentials_of(self, client: Any) -> tuple[object, ...]:
        return tuple(getattr(client, name, None) for name in self.credentials)

    async def build(self, client: Any, path: str, options: dict[str, Any]) -> httpx2.Request:
        """The request ``client.post(path, ...)`` would send, with an empty body."""
        if client._platform is None:
            # As the SDK's request() does: platform detection may block, so off the loop, once.
            client._platform = await asyncio.to_thread(self.sdk._base_client.get_platform)
        final = self.sdk._models.FinalRequestOptions.construct(
            method="post", url=path, content=b"", **options
        )
        return client._build_request(final)

    def send(self, client: Any, request: httpx2.Request, stream: bool) -> Any:
        """The SDK's HTTP client's ``send`` (a coroutine)."""
        return client._client.send(request, stream=stream)

    def status_error(self, client: Any, response: httpx2.Response) -> Exception:
        """The SDK's exception for a non-2xx response whose body has been read."""
        return client._make_status_error_from_response(response)

    # -- client construction -----------------------------------------------------------------

    def forget_environment(self, client: Any) -> None:
        """Undo what the constructor took from the environment with no way to say "none"
        (``OPENAI_CUSTOM_HEADERS``, ``ANTHROPIC_CUSTOM_HEADERS``, ...): only Django settings
        configure the gateway."""
        for name, empty in self.environment.items():
            if hasattr(client, name):
                setattr(client, name, empty())
            else:  # pragma: no cover - the check at import saw it
                logger.warning("%s: cannot reset %s", self.sdk.__name__, name)
