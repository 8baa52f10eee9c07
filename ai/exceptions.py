"""The app's own errors. Providers raise these; ``ai.api.errors`` turns them into HTTP once.

Each class is a small table, DRF-style: ``status_code`` is what the gateway answers its client,
``code`` a stable machine-readable string, ``default_message`` the human text. Upstream errors
carry context (provider, model, upstream status, upstream request id) and keep the SDK exception
as ``__cause__``; its text is never shown to clients verbatim (it may echo a key fragment).
"""

from __future__ import annotations


class AIError(Exception):
    """Root of every error the app raises at run time."""

    status_code: int = 500
    code: str = "ai_error"
    default_message: str = "The AI gateway failed to handle the request."
    #: Whether the router may try again (same target after a pause, or the next target).
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        upstream_status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.provider = provider
        self.model = model
        self.upstream_status = upstream_status
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self.message)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"model={self.model!r}, upstream_status={self.upstream_status!r})"
        )


# --- configuration / request errors (raised before any upstream call) -------------------------


class ProviderNotConfiguredError(AIError, ValueError):
    """A provider was asked for whose API key is not set. The message names the setting."""

    status_code = 400
    code = "provider_not_configured"
    default_message = "That provider is not configured on this gateway."


class UnknownProviderError(AIError, ValueError):
    status_code = 400
    code = "unknown_provider"
    default_message = "Unknown provider."


class UnsupportedParameterError(AIError, ValueError):
    """The request asks for something its target cannot do (a tool, an image, a parameter);
    raised before any upstream call. ``param`` names it as the request did."""

    status_code = 400
    code = "unsupported_parameter"
    default_message = "The target provider does not support a parameter of this request."

    def __init__(self, message: str | None = None, *, param: str = "", **context: object) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.param = param

    @classmethod
    def of(cls, param: str, provider: str, why: str = "") -> UnsupportedParameterError:
        message = f"{param} is not supported by the {provider} provider" + (
            f": {why}" if why else "."
        )
        return cls(message, param=param, provider=provider)


class NoRouteAvailableError(AIError):
    """Every target of a route belongs to a provider that is not configured."""

    status_code = 503
    code = "no_route_available"
    default_message = "No configured provider can serve this request."


# --- upstream errors -------------------------------------------------------------------------


class UpstreamError(AIError):
    """The upstream provider failed. Base of everything that came from the wire."""

    status_code = 502
    code = "upstream_error"
    default_message = "The upstream provider returned an error."


class UpstreamAuthenticationError(UpstreamError):
    """The upstream rejected the gateway's own credentials (a gateway problem, not the client's)."""

    code = "upstream_authentication_failed"
    default_message = "The upstream provider rejected the gateway's credentials."


class UpstreamPermissionError(UpstreamError):
    code = "upstream_permission_denied"
    default_message = "The gateway's credentials may not use this upstream resource."


class UpstreamBadRequestError(UpstreamError):
    """The upstream refused the request as invalid (context too long, bad parameter ...)."""

    status_code = 400
    code = "upstream_bad_request"
    default_message = "The upstream provider rejected the request as invalid."


class ModelNotFoundError(UpstreamError):
    status_code = 404
    code = "model_not_found"
    default_message = "The upstream provider does not know that model."


class RateLimitedError(UpstreamError):
    status_code = 429
    code = "rate_limited"
    default_message = "The upstream provider is rate limiting requests; retry later."
    retryable = True


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    code = "upstream_timeout"
    default_message = "The upstream provider did not answer in time."
    retryable = True


class UpstreamConnectionError(UpstreamError):
    """Could not connect, or the connection dropped (also mid-stream)."""

    status_code = 502
    code = "upstream_connection_error"
    default_message = "Could not reach the upstream provider, or it dropped the connection."
    retryable = True


class UpstreamUnavailableError(UpstreamError):
    """5xx from the upstream, including Anthropic's 529 overloaded."""

    status_code = 503
    code = "upstream_unavailable"
    default_message = "The upstream provider is unavailable or overloaded."
    retryable = True


class UpstreamStreamError(UpstreamError):
    """An error the upstream reported inside a stream that had started normally (in-band)."""

    code = "upstream_stream_error"
    default_message = "The upstream provider reported an error inside the stream."


# --- governance (ai.governance: the gateway's own limits, checked before any upstream call) ----


class RateLimitExceeded(AIError):
    """A request or token limit of the gateway (not the upstream's) is used up. ``headers`` are
    the ``x-ratelimit-*`` headers of the answer; ``retry_after`` is when one request fits."""

    status_code = 429
    code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded; retry later."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = headers or {}


class BudgetExceeded(AIError):
    """A daily or monthly spending budget would be passed by this request's worst-case cost.
    The message names the budget and when it resets."""

    status_code = 402
    code = "budget_exceeded"
    default_message = "The budget is spent."


class LimitsUnavailable(AIError):
    """The cache that counts rate limits and budgets did not answer: the request is refused
    rather than let through uncounted."""

    status_code = 503
    code = "limits_unavailable"
    default_message = "Rate limits and budgets cannot be checked right now; retry later."
    retryable = False
