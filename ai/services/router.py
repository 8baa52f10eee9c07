"""Smart routing: a request's complexity picks provider and model, with override, retries and
fallbacks.

A route is an ordered list of :class:`ModelRoute` targets. The router walks it: each target gets
``1 + AI_MAX_RETRIES`` attempts on retryable failures (rate limits, timeouts, dropped
connections, 5xx), pausing ``Retry-After`` or an exponential backoff, and a target whose provider
is not configured is skipped. When a target is exhausted the next one is tried. An explicit
model/provider override is a route of one target: it is retried, never swapped for another model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import ai.services.cooldown as cooldown
from ai import metrics, tracing
from ai.conf import ai_settings
from ai.exceptions import (
    AIError,
    ModelNotFoundError,
    NoRouteAvailableError,
    UnsupportedParameterError,
    UpstreamAuthenticationError,
    UpstreamPermissionError,
)
from ai.providers.base import (
    BaseLLMProvider,
    ChatOptions,
    LLMResponse,
    LLMStream,
    Message,
    ModelComplexity,
    simple_messages,
)
from ai.providers.parts import NO_OPTIONS
from ai.services.factory import (
    DEFAULT_MODELS,
    PROVIDER_CLASSES,
    compatible_providers,
    get_llm_provider,
    is_configured,
)
from ai.services.routes import (
    SEARCH_PROVIDER,
    ModelRoute,
    RouteSource,
    search_targets,
)

logger = logging.getLogger("ai.router")

T = TypeVar("T")


_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt-", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("models/gemini-", "gemini"),
    ("offline-", "offline"),
)


def provider_for_model(model: str) -> str | None:
    """The provider a model name belongs to (None when unknown): the configured
    OpenAI-compatible provider that declares it (first declared first: ``gpt-oss-20b`` on Groq
    is not OpenAI's), else its vendor prefix."""
    for name, declaration in compatible_providers().items():
        if declaration.configured and declaration.serves(model):
            return name
    lowered = model.lower()
    return next((p for prefix, p in _MODEL_PREFIXES if lowered.startswith(prefix)), None)


class LLMRouter:
    """Routes requests by complexity. Shared; holds no per-request state."""

    def __init__(self, route_source: RouteSource | None = None) -> None:
        self._route_source = route_source

    async def targets(self, complexity: ModelComplexity) -> list[ModelRoute]:
        source = self._route_source or _configured_route_source()
        complexity = ModelComplexity(complexity)
        targets = await source(complexity)
        if complexity is ModelComplexity.SEARCH:
            targets = search_targets(
                targets,
                provider_configured=is_configured(SEARCH_PROVIDER),
                model=str(ai_settings.AI_SEARCH_MODEL),
            )
        return list(targets)

    async def plan(
        self,
        complexity: ModelComplexity | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> list[ModelRoute]:
        """The ordered targets for a request. ``provider`` and/or ``model`` override the route:
        a model alone keeps the provider its name belongs to (else the route's first)."""
        if provider or model:
            if not provider:
                provider = provider_for_model(model or "")
                if provider is None:
                    first = await self.targets(complexity or ModelComplexity.MODERATE)
                    provider = first[0].provider if first else ai_settings.AI_DEFAULT_PROVIDER
            if provider not in PROVIDER_CLASSES:
                get_llm_provider(provider)  # raises UnknownProviderError with the valid names
            target_model = model or default_model_for(provider)
            return [ModelRoute(provider, target_model)]
        if complexity is None:
            provider = ai_settings.AI_DEFAULT_PROVIDER
            return [ModelRoute(provider, default_model_for(provider))]
        return await self.targets(complexity)

    async def complete(
        self,
        messages: Sequence[Message | dict],
        complexity: ModelComplexity = ModelComplexity.MODERATE,
        *,
        model: str | None = None,
        provider: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse:
        targets = await self.plan(complexity, provider=provider, model=model)
        return await self.run(
            targets,
            lambda p, route: p.complete(messages, route.model, temperature, max_tokens),
            overridden=bool(provider or model),
        )

    async def chat(
        self,
        prompt: str,
        system: str | None = None,
        complexity: ModelComplexity = ModelComplexity.MODERATE,
        *,
        model: str | None = None,
        provider: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse:
        return await self.complete(
            simple_messages(prompt, system),
            complexity,
            model=model,
            provider=provider,
            temperature=temperature,
            max_tokens=max_tokens,
        )

    async def stream(
        self,
        messages: Sequence[Message | dict],
        complexity: ModelComplexity = ModelComplexity.MODERATE,
        *,
        model: str | None = None,
        provider: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMStream:
        """A started stream from the first target that answers. Retries and fallbacks happen
        only before the first delta; after it, a failure is the stream's own error."""
        targets = await self.plan(complexity, provider=provider, model=model)
        return await self.open_stream(
            targets, messages, temperature, max_tokens, overridden=bool(provider or model)
        )

    async def open_stream(
        self,
        targets: Sequence[ModelRoute],
        messages: Sequence[Message | dict],
        temperature: float | None = None,
        max_tokens: int | None = None,
        options: ChatOptions | None = None,
        *,
        overridden: bool = False,
        trace: RouteTrace | None = None,
    ) -> LLMStream:
        async def attempt(p: BaseLLMProvider, route: ModelRoute) -> LLMStream:
            fitted = fit_options(p, options, trace)
            stream = p.stream(messages, route.model, temperature, max_tokens, fitted)
            await stream.start()
            return stream

        return await self.run(targets, attempt, overridden=overridden, trace=trace)

    async def run(
        self,
        targets: Sequence[ModelRoute],
        call: Callable[[BaseLLMProvider, ModelRoute], Awaitable[T]],
        *,
        overridden: bool = False,
        trace: RouteTrace | None = None,
        operation: str = "chat",
    ) -> T:
        """Call ``call(provider, route)`` on each target in turn, with retries; return the first
        success or raise the last error. Targets whose provider is not configured are skipped,
        and so are targets in cooldown (:mod:`ai.services.cooldown`) while another target is
        left; ``trace`` gets what happened to each target."""
        skipped = await self._skipped(targets, overridden) if len(targets) > 1 else None
        last_error: AIError | None = None
        tried = 0
        for route in targets:
            reason = skipped.get(route) if skipped else None
            if reason is None and not is_configured(route.provider):
                if overridden:
                    get_llm_provider(route.provider)  # raises ProviderNotConfiguredError
                reason = NOT_CONFIGURED
            if reason is not None:
                if trace is not None:
                    trace.note(route, reason)
                continue
            tried += 1
            provider = get_llm_provider(route.provider)
            parent = trace.span if trace is not None else None
            for attempt in range(1 + max(0, int(ai_settings.AI_MAX_RETRIES))):
                span = tracing.start_attempt(parent, operation, route.provider, route.model)
                try:
                    result = await call(provider, route)
                except AIError as err:
                    tracing.end_attempt(span, error=err)
                    last_error = err
                    wait = _retry_wait(err, attempt)
                    if wait is None:
                        break
                    metrics.retried(route.provider, route.model, err.code)
                    logger.info(
                        "retrying %s/%s in %.2fs after %s",
                        route.provider,
                        route.model,
                        wait,
                        err.code,
                    )
                    await asyncio.sleep(wait)
                except BaseException as exc:
                    tracing.end_attempt(span, error=exc)
                    raise
                else:
                    tracing.end_attempt(span, result)
                    if trace is not None:
                        trace.note(route, OK)
                    return result
            assert last_error is not None
            if trace is not None:
                trace.note(route, last_error.code)
            if last_error.retryable and cooldown.enabled():
                await cooldown.board.failed((route.provider, route.model))
            if overridden or not ai_settings.AI_FALLBACKS_ENABLED or not _falls_back(last_error):
                raise last_error
            if route is not targets[-1]:
                metrics.fell_back(route.provider, route.model, last_error.code)
            logger.warning(
                "falling back from %s/%s after %s", route.provider, route.model, last_error.code
            )
        if last_error is not None:
            raise last_error
        if not tried and ai_settings.AI_OFFLINE_ENABLED and targets:
            # Nothing on the route is configured but the offline provider is: development mode.
            result = await call(get_llm_provider("offline"), targets[0])
            if trace is not None:
                trace.note(ModelRoute("offline", targets[0].model), OK)
            return result
        names = ", ".join(sorted({t.provider for t in targets})) or "none"
        raise NoRouteAvailableError(
            f"No configured provider can serve this route (its targets use: {names})."
        )

    async def _skipped(
        self, targets: Sequence[ModelRoute], overridden: bool
    ) -> dict[ModelRoute, str] | None:
        """The targets in cooldown that a request of a multi-target route skips. When every
        configured target is cooling down, the one that failed least recently is kept: a
        request never fails only because everything is cooling down."""
        if overridden or not cooldown.enabled():
            return None
        live = [t for t in targets if is_configured(t.provider)]
        if len(live) < 2:
            return None
        failed_at = await cooldown.board.cooling((t.provider, t.model) for t in live)
        if not failed_at:
            return None
        cooling = [t for t in live if (t.provider, t.model) in failed_at]
        if len(cooling) == len(live):
            keep = min(cooling, key=lambda t: failed_at[(t.provider, t.model)])
            cooling.remove(keep)
        return dict.fromkeys(cooling, COOLDOWN)


#: The response header that carries a :class:`RouteTrace`.
ROUTE_HEADER = "x-ai-route"

#: What happened to a target, in a :class:`RouteTrace` (besides an error's code).
OK = "ok"
NOT_CONFIGURED = "not_configured"
NOT_ALLOWED = "not_allowed"
COOLDOWN = "cooldown"


def fit_options(
    provider: BaseLLMProvider, options: ChatOptions | None, trace: RouteTrace | None
) -> ChatOptions | None:
    """``options`` as ``provider`` takes them (:meth:`BaseLLMProvider.fit_options`: raises
    for what it cannot honour, or leaves it out when the request asked); ``trace`` notes what
    was left out for this target."""
    if options is None or options is NO_OPTIONS:
        return options
    options, dropped = provider.fit_options(options)
    if trace is not None:
        trace.dropped = dropped
    return options


class RouteTrace:
    """How one request was routed, as the ``x-ai-route`` header and the ledger's ``routing``
    column write it::

        complexity=moderate; openai/gpt-4o=cooldown; anthropic/claude-sonnet-4-5=ok

    The head says where the targets came from: ``complexity=<class>`` for a routed request
    (``complexity=auto:<class>`` when the classifier picked it), ``route=override`` for an
    explicit provider/model, ``route=default`` for the default provider and model. Then each
    target the request reached, in route order: ``ok``, ``not_configured``, ``not_allowed``
    (the API key does not allow it), ``cooldown``, or the code of the error it failed with.
    Last, ``dropped=<names>`` when the request asked to drop what its target cannot honour and
    the target that answered left options out (``AI_DROP_PARAMS``)."""

    __slots__ = ("dropped", "head", "span", "steps")

    def __init__(self, head: str = "", span: Any = None) -> None:
        self.head = head
        self.steps: list[str] = []
        #: The options the last target tried left out (:func:`fit_options`).
        self.dropped: tuple[str, ...] = ()
        #: The request's OpenTelemetry span, parent of each attempt's (``ai.tracing``).
        self.span = span

    def note(self, route: ModelRoute, status: str) -> None:
        self.steps.append(f"{route.provider}/{route.model}={status}")
        if status != OK:  # what a target that did not answer left out is not the answer's
            self.dropped = ()

    def __str__(self) -> str:
        items = [self.head, *self.steps] if self.head else list(self.steps)
        if self.dropped:
            items.append("dropped=" + ",".join(self.dropped))
        return "; ".join(items)


def default_model_for(provider: str) -> str:
    """The model a request names no model for goes to: ``AI_DEFAULT_MODEL`` for the default
    provider, else the provider class's own default."""
    if provider == ai_settings.AI_DEFAULT_PROVIDER and ai_settings.AI_DEFAULT_MODEL:
        return ai_settings.AI_DEFAULT_MODEL
    if provider not in PROVIDER_CLASSES:
        declaration = compatible_providers().get(provider)
        if declaration is not None:
            return declaration.model
    path = PROVIDER_CLASSES[provider]
    if path in DEFAULT_MODELS:
        return DEFAULT_MODELS[path]
    from django.utils.module_loading import import_string

    return import_string(path).default_model


def _retry_wait(err: AIError, attempt: int) -> float | None:
    """Seconds to wait before retrying the same target, or None to stop retrying it."""
    if not err.retryable or attempt >= int(ai_settings.AI_MAX_RETRIES):
        return None
    cap = float(ai_settings.AI_RETRY_MAX_WAIT_S)
    if err.retry_after is not None:
        return err.retry_after if err.retry_after <= cap else None
    return min(cap, ai_settings.AI_RETRY_BACKOFF_MS / 1000 * (2**attempt))


def _falls_back(err: AIError) -> bool:
    # UnsupportedParameterError: the next target may be able to do what this one cannot.
    return err.retryable or isinstance(
        err,
        UpstreamAuthenticationError
        | UpstreamPermissionError
        | ModelNotFoundError
        | UnsupportedParameterError,
    )


def _configured_route_source() -> RouteSource:
    """The routing table in the database (``ai.routing``), which falls back to
    :func:`default_route_targets` for a complexity with no enabled target."""
    from ai.routing import db_route_source

    return db_route_source


_router: LLMRouter | None = None


def get_llm_router() -> LLMRouter:
    """The shared router."""
    global _router
    if _router is None:
        _router = LLMRouter()
    return _router


def clear_router_cache() -> None:
    """Forget the shared router and start the provider cooldowns over."""
    global _router
    _router = None
    cooldown.board.reset()
