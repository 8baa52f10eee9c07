"""The gateway's HTTP endpoints (paths in ``ai.urls``). All require a JWT bearer token."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
)
from rest_framework.request import Request

from ai import governance
from ai.api.base import AsyncAPIView, json_response
from ai.api.bodies import (
    ChatRequest,
    CompletionResponse,
    CompletionsRequest,
    ErrorResponse,
    RoutedChatRequest,
    RoutedCompletionResponse,
    StatusResponse,
)
from ai.api.errors import InvalidRequest
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import (  # also registers the auth scheme for the docs
    extend_schema,
)
from ai.api.sse import SSE_DESCRIPTION, SSEResponse
from ai.api.streaming import StreamFrames
from ai.api.validation import validate
from ai.conf import ai_settings
from ai.providers.base import ModelComplexity
from ai.services import gateway, response_cache
from ai.services.factory import get_available_providers, is_configured
from ai.services.router import default_model_for, get_llm_router

OFFLINE = "offline"
OFFLINE_NOTICE = (
    "Answers come from the offline provider: deterministic echoes, not a real model. "
    "Set AI_OPENAI_API_KEY, AI_ANTHROPIC_API_KEY or AI_GOOGLE_API_KEY in the Django settings "
    "(or the OPENAI_API_KEY, ANTHROPIC_API_KEY or GOOGLE_API_KEY environment variable) to use "
    "a real one."
)
OFFLINE_DEFAULT_NOTICE = (
    "The default provider is the offline provider: requests that name no provider or model "
    "get deterministic echoes, not a real model's answer."
)

ERRORS = {
    status: OpenApiResponse(ErrorResponse, description=description)
    for status, description in {
        400: "Invalid request (`fields` names each bad field), or the provider asked for is "
        "not configured (`provider_not_configured`), or the upstream refused the request.",
        401: "Missing, invalid or expired token, or an inactive user.",
        404: "The upstream does not know the model (`model_not_found`).",
        413: "The body is larger than AI_MAX_BODY_BYTES.",
        415: "The body is not application/json.",
        402: "A daily or monthly budget is spent (`budget_exceeded`; the message names the "
        "budget and when it resets).",
        429: "A rate limit of the gateway (`rate_limit_exceeded`, with the `x-ratelimit-*` "
        "headers) or of the upstream (`rate_limited`) is reached; `Retry-After` says when to "
        "retry.",
        502: "The upstream failed or could not be reached.",
        503: "The upstream is unavailable, or no configured provider can serve the route.",
        504: "The upstream did not answer in time.",
    }.items()
}


TAGS = ["ai"]
REQUEST_ID = OpenApiParameter(
    "X-Request-ID",
    str,
    OpenApiParameter.HEADER,
    response=True,
    description="The request's id (uuid4 hex), on every response; errors repeat it.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before retrying (the gateway's own limits, or the upstream's).",
)
RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        f"x-ratelimit-{part}-{kind}",
        str if part == "reset" else int,
        OpenApiParameter.HEADER,
        response=[200, 429],
        description=f"When a {kind}-per-minute limit applies (the one closest to refusing): "
        + {
            "limit": "the limit.",
            "remaining": "what is left of it now.",
            "reset": "when it is whole again, as OpenAI writes it (`6s`, `1m30s`).",
        }[part],
    )
    for kind in ("requests", "tokens")
    for part in ("limit", "remaining", "reset")
]
CACHE = OpenApiParameter(
    response_cache.HEADER,
    str,
    OpenApiParameter.HEADER,
    enum=[response_cache.USE, response_cache.SKIP],
    description="With the response cache on (AI_CACHE_TTL > 0): `use` answers from the cache "
    "whatever the temperature, `skip` never. Without it only temperature 0 is cached.",
)
CACHE_RESULT = OpenApiParameter(
    response_cache.HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[200],
    enum=[response_cache.HIT, response_cache.MISS],
    description="With the response cache on, on a JSON answer: whether it came from the cache.",
)
LLM_PARAMETERS = [REQUEST_ID, RETRY_AFTER, *RATE_LIMIT_HEADERS, CACHE, CACHE_RESULT]


_CACHE_META = "HTTP_" + response_cache.HEADER.upper().replace("-", "_")


def cache_mode(request: Request) -> str | None:
    """The request's ``x-ai-cache`` header: None, ``"use"`` or ``"skip"`` (else 400)."""
    # From META: ``request.headers`` would build every header's title-cased name to read one.
    header = request.META.get(_CACHE_META)
    if not header:
        return None
    value = header.strip().lower()
    if value not in (response_cache.USE, response_cache.SKIP):
        raise InvalidRequest(
            {response_cache.HEADER: [f"Must be 'use' or 'skip', not {header[:40]!r}."]}
        )
    return value


def _llm_responses(ok: type) -> dict[Any, Any]:
    # Errors are JSON whatever the client accepts, streams included.
    return {
        (200, "application/json"): OpenApiResponse(
            ok,
            description="The answer as JSON (`stream` false or absent), or with `stream: true` "
            "a `text/event-stream` (frames described above).",
        ),
        (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description=SSE_DESCRIPTION),
        **{(status, "application/json"): response for status, response in ERRORS.items()},
    }


class _LLMView(AsyncAPIView):
    defers_confirmation = True  # upstreams only through the gateway's admission
    endpoint: ClassVar[str]
    body: ClassVar[type[CompletionsRequest | ChatRequest]]

    async def serve(self, request: Request) -> HttpResponseBase:
        call = validate(self.body, self.json_body(request)).to_call()
        return await serve_chat(self, request, call, self.endpoint, lambda _: StreamFrames())


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


async def serve_chat(
    view: AsyncAPIView,
    request: Request,
    call: gateway.LLMCall,
    endpoint: str,
    frames: Callable[[gateway.Outcome], gateway.Frames],
    answer: Callable[[dict[str, Any]], Any] = _as_is,
) -> HttpResponseBase:
    """A chat request as every chat surface serves it: its ledger ``Outcome``, then a stream
    whose frames ``frames(outcome)`` writes, or the JSON ``answer(body)`` of the gateway's
    answer (with the response cache's header), then the ``x-ai-route`` and ``x-ratelimit-*``
    headers."""
    cache = cache_mode(request)
    outcome = gateway.Outcome(
        request_id=view.request_id,
        endpoint=endpoint,
        user_id=request.user.pk,
        complexity=call.complexity.value if call.complexity is not None else "",
        started=time.perf_counter(),
    )
    if call.stream:
        response: HttpResponseBase = SSEResponse(
            await gateway.open_stream(call, outcome, frames(outcome)), request=request._request
        )
    else:
        response = json_response(answer(await gateway.complete(call, outcome, cache)))
        response_cache.apply_header(response, outcome)
    gateway.route_header(response, outcome)  # x-ai-route
    return governance.apply_headers(response, outcome)  # x-ratelimit-*


class CompletionsView(_LLMView):
    endpoint = "completions"
    body = CompletionsRequest

    @extend_schema(
        operation_id="ai_completions",
        summary="Chat completion from a message history",
        description="Answers with the default provider and model unless `provider`/`model` "
        "override them.\n\n" + SSE_DESCRIPTION,
        tags=TAGS,
        parameters=LLM_PARAMETERS,
        request=CompletionsRequest,
        responses=_llm_responses(CompletionResponse),
        examples=[
            OpenApiExample(
                "Two messages",
                value={
                    "messages": [
                        {"role": "system", "content": "Answer briefly."},
                        {"role": "user", "content": "What is ASGI?"},
                    ],
                    "temperature": 0.2,
                    "max_tokens": 200,
                },
                request_only=True,
            )
        ],
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return await self.serve(request)


class ChatView(_LLMView):
    endpoint = "chat"
    body = ChatRequest

    @extend_schema(
        operation_id="ai_chat",
        summary="Chat from a single prompt",
        description="`prompt` (and an optional `system`) with the default provider and model "
        "unless `provider`/`model` override them.\n\n" + SSE_DESCRIPTION,
        tags=TAGS,
        parameters=LLM_PARAMETERS,
        request=ChatRequest,
        responses=_llm_responses(CompletionResponse),
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return await self.serve(request)


class RoutedChatView(_LLMView):
    endpoint = "chat_routed"
    body = RoutedChatRequest

    @extend_schema(
        operation_id="ai_chat_routed",
        summary="Chat routed by complexity",
        description="`complexity` picks provider and model from the routing table (see the "
        "status endpoint), with retries and fallbacks; `provider`/`model` override the route."
        "\n\n" + SSE_DESCRIPTION,
        tags=TAGS,
        parameters=LLM_PARAMETERS,
        request=RoutedChatRequest,
        responses=_llm_responses(RoutedCompletionResponse),
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return await self.serve(request)


class StatusView(AsyncAPIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="ai_status",
        summary="What the gateway can serve",
        description="Configured providers, the defaults, the routing table, and whether the "
        "gateway is in offline mode. Never includes a key or a base URL.",
        tags=TAGS,
        parameters=[REQUEST_ID],
        responses={200: StatusResponse, 401: ERRORS[401]},
    )
    async def get(self, request: Request) -> HttpResponseBase:
        providers = get_available_providers()
        default_provider = str(ai_settings.AI_DEFAULT_PROVIDER)
        offline = providers == [OFFLINE] or default_provider == OFFLINE
        notice = None
        if offline:
            notice = OFFLINE_NOTICE if providers == [OFFLINE] else OFFLINE_DEFAULT_NOTICE
        router = get_llm_router()
        routes: dict[str, list[dict[str, Any]]] = {}
        for complexity in ModelComplexity:
            routes[complexity.value] = [
                {"provider": t.provider, "model": t.model, "configured": is_configured(t.provider)}
                for t in await router.targets(complexity)
            ]
        return json_response(
            {
                "available": bool(providers),
                "providers": providers,
                "default_provider": default_provider,
                "default_model": default_model_for(default_provider),
                "offline": offline,
                "mode": OFFLINE if offline else "live",
                "notice": notice,
                "routes": routes,
            }
        )
