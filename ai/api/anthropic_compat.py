"""Anthropic Messages API compatible endpoints, so the official Anthropic SDKs can use the
gateway::

    client = anthropic.AsyncAnthropic(api_key=<gateway key or JWT>,
                                      base_url=".../api/v1/anthropic")
    await client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=[...])

Same authentication, router, limits and usage ledger as the gateway's own endpoints (the request
goes through ``ai.services.gateway``, endpoint ``anthropic_messages``); only the wire format
differs: the request is translated by ``ai.api.anthropic_format``, answers, stream events and
errors are written by ``ai.api.anthropic_wire``. A Claude model goes to Anthropic; any other
model or route is translated, so an Anthropic client can talk to GPT or Gemini.

``count_tokens`` asks Anthropic for a Claude target and estimates for any other (the answer
then says ``"estimated": true``). It records no ledger row: it generates nothing and costs
nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai import deferred, keys
from ai.api.anthropic_blocks import validate_body
from ai.api.anthropic_format import AnthropicCountTokensRequest, AnthropicMessagesRequest
from ai.api.anthropic_wire import MessageFrames, anthropic_error, message
from ai.api.base import AsyncAPIView, json_response
from ai.api.model_names import resolve
from ai.api.schema import extend_schema
from ai.api.views import serve_chat
from ai.providers.base import ChatRequest, estimate_tokens
from ai.services.factory import get_llm_provider, is_configured
from ai.services.gateway import LLMCall, classified
from ai.services.router import get_llm_router

TAGS = ["anthropic-compatible"]
ENDPOINT = "anthropic_messages"
#: The response header the Anthropic SDKs read the request id from (``error.request_id``,
#: ``message._request_id``): the ledger row's id, as ``X-Request-ID``.
REQUEST_ID_HEADER = "request-id"

ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid request (the field named)."),
    401: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad or missing key or token."),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="The key may not use that model."),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown model."),
    429: OpenApiResponse(OpenApiTypes.OBJECT, description="Rate limited (see Retry-After)."),
}


class _AnthropicView(AsyncAPIView):
    """Answers errors in Anthropic's shape with a ``request-id`` header. (The SDK sends its
    ``api_key`` as ``x-api-key``: a gateway key or a JWT, both read there everywhere.)"""

    def error_payload(
        self, status: int, error: dict[str, Any], exc: BaseException
    ) -> dict[str, Any]:
        return anthropic_error(status, error, error.get("request_id"))

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        response[REQUEST_ID_HEADER] = self.request_id
        return response


class AnthropicMessagesView(_AnthropicView):
    defers_confirmation = True  # upstreams only through the gateway's admission

    @extend_schema(
        operation_id="anthropic_messages",
        summary="Anthropic-compatible Messages API",
        description="Anthropic's Messages request and response (`stream` too: message_start, "
        "content_block_start/delta/stop, message_delta, message_stop, and `event: error` for "
        "a failure after the first byte), for the official Anthropic SDKs: `base_url` = "
        "`<host>/api/v1/anthropic`, `api_key` = a gateway API key or access token. A Claude "
        "model goes to Anthropic; any other model (`gpt-4o-mini`, `provider/model`) or route "
        "(`simple`, `moderate`, `complex`, `search`, `auto`) is translated. Text, image, "
        "tool_use and tool_result blocks, tools and tool_choice. Extended thinking, server "
        "tools and documents are refused (400). Errors are Anthropic's "
        '`{"type":"error","error":{"type","message"}}` with the gateway\'s statuses; the '
        "`request-id` header is the ledger row's id.",
        tags=TAGS,
        request=AnthropicMessagesRequest,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A `message`, or with `stream: true` the Messages stream events.",
            ),
            **ERRORS,
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        body = validate_body(AnthropicMessagesRequest, self.json_body(request))
        call = await resolve(body.to_call())
        return await serve_chat(
            self,
            request,
            call,
            ENDPOINT,
            lambda outcome: MessageFrames(outcome, estimated_input_tokens(call)),
            lambda answer: message(answer, self.request_id),
        )


class AnthropicCountTokensView(_AnthropicView):
    defers_confirmation = True  # confirmed before its one upstream call

    @extend_schema(
        operation_id="anthropic_count_tokens",
        summary="Anthropic-compatible token count",
        description="The input tokens of a Messages request (`model`, `system`, `messages`, "
        "`tools`, `tool_choice`). A Claude target is counted by Anthropic; any other is "
        'estimated from the text (about four characters a token) and says `"estimated": '
        "true`. Records no usage: nothing is generated.",
        tags=TAGS,
        request=AnthropicCountTokensRequest,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='`{"input_tokens": N}`, plus `"estimated": true` for an estimate.',
            ),
            **ERRORS,
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        body = validate_body(AnthropicCountTokensRequest, self.json_body(request))
        call = await resolve(body.to_call())
        return json_response(await count_tokens(call))


async def count_tokens(call: LLMCall) -> dict[str, Any]:
    """``{"input_tokens": N}`` from Anthropic when the request's first target the caller's key
    allows is a configured Anthropic model, else an estimate (``"estimated": true``)."""
    call = classified(call)  # "auto" sorted as the request itself would be
    complexity = call.complexity
    targets = await get_llm_router().plan(complexity, provider=call.provider, model=call.model)
    allowed = keys.allowed_targets(
        keys.current_key(),
        targets,
        complexity=complexity.value if complexity is not None else None,
        overridden=call.overridden,
    )
    target = next((t for t in allowed if is_configured(t.provider)), None)
    if target is not None and target.provider == "anthropic":
        await deferred.confirm()  # a deferred marker, before the upstream call
        provider = get_llm_provider("anthropic")
        request = ChatRequest(call.messages, target.model, options=call.options)
        return {"input_tokens": await provider.count_tokens(request)}
    return {"input_tokens": estimated_input_tokens(call), "estimated": True}


def estimated_input_tokens(call: LLMCall) -> int:
    """The input tokens of ``call`` by the gateway's vendor-neutral estimate: its text, its tool
    calls' arguments and its tool definitions."""
    pieces: list[str] = []
    for m in call.messages:
        pieces.append(m.content)
        pieces.extend(c.name + c.arguments for c in m.tool_calls)
    for tool in call.options.tools:
        pieces.append(tool.name + tool.description + orjson.dumps(dict(tool.parameters)).decode())
    return estimate_tokens("".join(pieces))
