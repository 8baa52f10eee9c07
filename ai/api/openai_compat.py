"""OpenAI-compatible endpoints, so the official OpenAI SDKs can use the gateway::

    client = openai.AsyncOpenAI(api_key=<gateway access token>, base_url=".../api/v1/openai")
    await client.chat.completions.create(model="gpt-4o", messages=[...], stream=...)

Same JWT authentication, router and usage ledger as the gateway's own endpoints (the request
goes through ``ai.services.gateway``); only the wire format differs (``ai.api.openai_format``),
errors included: ``{"error": {"message", "type", "param", "code"}}`` with the gateway's statuses.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar

import orjson
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai import governance
from ai.api.base import AsyncAPIView, json_response
from ai.api.openai_format import ChunkFrames, OpenAIChatRequest, chat_completion, openai_error
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.api.sse import SSEResponse
from ai.api.validation import validate
from ai.api.views import cache_mode
from ai.services import gateway, response_cache
from ai.services.catalog import provider_of, served_models
from ai.services.router import provider_for_model

TAGS = ["openai-compatible"]
ENDPOINT = "openai_chat_completions"


class _OpenAIView(AsyncAPIView):
    """Answers errors in OpenAI's shape (this view only; the gateway's own stay as they are)."""

    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]
        response = super().handle_exception(exc)  # status, headers and logging as everywhere
        error = orjson.loads(response.content)["error"]
        response.content = orjson.dumps({"error": openai_error(response.status_code, error)})
        return response


class OpenAIChatCompletionsView(_OpenAIView):
    @extend_schema(
        operation_id="openai_chat_completions",
        summary="OpenAI-compatible chat completions",
        description="OpenAI's Chat Completions request and response (`stream` too), for the "
        "official OpenAI SDKs: `base_url` = `<host>/api/v1/openai`, `api_key` = a gateway "
        "access token. `model` picks the provider (`gpt-`, `claude-`, `gemini-`...), or "
        "`provider/model` forces one. Text messages only; tools, `n` > 1, `response_format`, "
        "`logprobs`, `stop` and the like are rejected (400). A `model` whose provider cannot "
        "be told (no vendor prefix, in no route) is `model_not_found` (404), naming the "
        "models served.",
        tags=TAGS,
        request=OpenAIChatRequest,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A `chat.completion`, or "
                "with `stream: true` `chat.completion.chunk` events.",
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid request."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown model."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad or missing token."),
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        chat = validate(OpenAIChatRequest, self.json_body(request)).to_chat()
        call = chat.call
        cache = cache_mode(request)
        if call.provider is None and call.model and provider_for_model(call.model) is None:
            call = dataclasses.replace(call, provider=await provider_of(call.model))
        outcome = gateway.Outcome(
            request_id=self.request_id,
            endpoint=ENDPOINT,
            user_id=request.user.pk,
            complexity="",
            started=time.perf_counter(),
        )
        if call.stream:
            frames = ChunkFrames(outcome, chat.include_usage)
            response = SSEResponse(await gateway.open_stream(call, outcome, frames))
        else:
            body = await gateway.complete(call, outcome, cache)
            response = json_response(chat_completion(body, self.request_id))
            response_cache.apply_header(response, outcome)
        gateway.route_header(response, outcome)  # x-ai-route
        return governance.apply_headers(response, outcome)  # x-ratelimit-*


class OpenAIModelsView(_OpenAIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="openai_models",
        summary="OpenAI-compatible model list",
        description="The models of the routing table whose provider is configured (and the "
        "default model), in OpenAI's list format.",
        tags=TAGS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A model list.")},
    )
    async def get(self, request: Request) -> HttpResponseBase:
        data: list[dict[str, Any]] = [
            {"id": model, "object": "model", "created": 0, "owned_by": provider}
            for model, provider in (await served_models()).items()
        ]
        return json_response({"object": "list", "data": data})
