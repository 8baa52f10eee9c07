"""The OpenAI Responses API, so the official OpenAI SDKs' ``client.responses`` can use the
gateway::

    client = openai.AsyncOpenAI(api_key=<gateway key or token>, base_url=".../api/v1/openai")
    await client.responses.create(model="gpt-4o-mini", input="...", tools=[...])
    async with client.responses.stream(model=..., input=...) as stream: ...

Same authentication, routing, limits and ledger as every endpoint (the request goes through
``ai.services.gateway``); the wire format is ``ai.api.responses_format`` (bodies) and
``ai.api.responses_stream`` (events), errors in OpenAI's shape. Nothing is stored:
``previous_response_id`` is refused, the client sends the whole conversation.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai.api.base import AsyncAPIView
from ai.api.model_names import resolve
from ai.api.openai_format import openai_error
from ai.api.responses_format import ResponsesRequest, parse_request, response_of
from ai.api.responses_stream import ResponseFrames
from ai.api.schema import extend_schema
from ai.api.views import serve_chat
from ai.exceptions import UnsupportedParameterError

ENDPOINT = "openai_responses"
#: What a provider refuses, named as this surface's request names it.
_PARAMS = {
    "response_format": "text.format",
    "max_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
}

_DESCRIPTION = (
    "OpenAI's Responses API (`client.responses.create` / `.stream` of the official SDKs, "
    "`base_url` = `<host>/api/v1/openai`). `input` is a string or the whole conversation: "
    "messages (text and `input_image` parts), `function_call` items and their "
    "`function_call_output`; `instructions` is the system prompt; function `tools`, "
    "`tool_choice`, `parallel_tool_calls`, `max_output_tokens`, `temperature`, `top_p` and "
    "`text.format` (text, json_object, json_schema) are honoured or refused (400) by the "
    "target. Nothing is stored: `previous_response_id` is refused (400).\n\n"
    "With `stream: true`: typed events (`event: <type>`, data with `type` and "
    "`sequence_number`): `response.created`, `response.in_progress`, "
    "`response.output_item.added`, `response.content_part.added`, "
    "`response.output_text.delta`, `response.function_call_arguments.delta`, their `.done` "
    "events, `response.output_item.done`, then `response.completed` (with `usage`) or "
    "`response.incomplete` (max_output_tokens). A failure after the first event ends with "
    "`error` and `response.failed`."
)


class ResponsesView(AsyncAPIView):
    """Answers errors in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``)."""

    defers_confirmation = True  # upstreams only through the gateway's admission

    def error_payload(
        self, status: int, error: dict[str, Any], exc: BaseException
    ) -> dict[str, Any]:
        if isinstance(exc, UnsupportedParameterError) and exc.param in _PARAMS:
            error["fields"] = {_PARAMS[exc.param]: error["fields"][exc.param]}
        return {"error": openai_error(status, error)}

    @extend_schema(
        operation_id="openai_responses",
        summary="OpenAI-compatible Responses API",
        description=_DESCRIPTION,
        tags=["openai-compatible"],
        request=ResponsesRequest,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A `response` object, or with `stream: true` its events.",
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid request."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad or missing token."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown model."),
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        created_at = int(time.time())
        responses_call = parse_request(self.json_body(request))
        call = await resolve(responses_call.call)
        echo = responses_call.echo
        return await serve_chat(
            self,
            request,
            call,
            ENDPOINT,
            lambda outcome: ResponseFrames(outcome, echo),
            lambda body: response_of(self.request_id, echo, body, created_at),
        )
