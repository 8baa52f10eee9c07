"""OpenAI-compatible endpoints, so the official OpenAI SDKs can use the gateway::

    client = openai.AsyncOpenAI(api_key=<gateway key or access token>, base_url=".../api/v1/openai")
    await client.chat.completions.create(model="gpt-4o", messages=[...], stream=...)

Same JWT authentication, router and usage ledger as the gateway's own endpoints (the request
goes through ``ai.services.gateway``); only the wire format differs (``ai.api.openai_format``),
errors included: ``{"error": {"message", "type", "param", "code"}}`` with the gateway's statuses.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.model_names import ROUTES, resolve
from ai.api.openai_chunks import ChunkFrames, chat_completion, openai_error
from ai.api.openai_format import OpenAIChatRequest
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.api.validation import validate
from ai.api.views import serve_chat
from ai.services.catalog import AUTO_OWNER, served_models
from ai.services.classifier import AUTO

TAGS = ["openai-compatible"]
ENDPOINT = "openai_chat_completions"


class OpenAIView(AsyncAPIView):
    """Answers errors in OpenAI's shape (this view only; the gateway's own stay as they are)."""

    def error_payload(
        self, status: int, error: dict[str, Any], exc: BaseException
    ) -> dict[str, Any]:
        return {"error": openai_error(status, error)}


class OpenAIChatCompletionsView(OpenAIView):
    defers_confirmation = True  # upstreams only through the gateway's admission

    @extend_schema(
        operation_id="openai_chat_completions",
        summary="OpenAI-compatible chat completions",
        description="OpenAI's Chat Completions request and response (`stream` too), for the "
        "official OpenAI SDKs: `base_url` = `<host>/api/v1/openai`, `api_key` = a gateway "
        "API key or access token. `model` picks the provider (`gpt-`, `claude-`, `gemini-`...), "
        "`provider/model` forces one, a route name (`simple`, `moderate`, `complex`, `search`, "
        "`auto`) routes it. Text and image parts, tools and tool results, `tool_choice`, "
        "`response_format` (json_object, json_schema), `stop` and the sampling parameters are "
        "translated for every provider; one a target cannot honour is a 400 "
        "`unsupported_parameter` naming it. Unknown fields go as they are to OpenAI targets. "
        "`n` > 1, `logprobs` and audio are refused (400). A `model` whose provider cannot be "
        "told (no vendor prefix, in no route) is `model_not_found` (404).",
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
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="Model not allowed."),
            429: OpenApiResponse(OpenApiTypes.OBJECT, description="Rate limited."),
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        chat = validate(OpenAIChatRequest, self.json_body(request)).to_chat()
        call = await resolve(chat.call)
        return await serve_chat(
            self,
            request,
            call,
            ENDPOINT,
            lambda outcome: ChunkFrames(outcome, chat.include_usage),
            lambda body: chat_completion(body, self.request_id),
        )


class OpenAIModelsView(OpenAIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="openai_models",
        summary="OpenAI-compatible model list",
        description="The models the gateway serves (the default model and the routing "
        "table's, of configured providers; `owned_by` is the provider), then the route names "
        "`simple`, `moderate`, `complex`, `search` and `auto` (`owned_by`: `gateway`), in "
        "OpenAI's list format. Any of them may be given as `model`.",
        tags=TAGS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A model list.")},
    )
    async def get(self, request: Request) -> HttpResponseBase:
        served = await served_models()
        owners = {m: p for m, p in served.items() if m != AUTO}
        if served:
            owners.update(dict.fromkeys((*ROUTES, AUTO), AUTO_OWNER))
        data: list[dict[str, Any]] = [
            {"id": model, "object": "model", "created": 0, "owned_by": owner}
            for model, owner in owners.items()
        ]
        return json_response({"object": "list", "data": data})
