"""Anthropic Messages API compatible endpoints (work in progress: issue 11)."""

from __future__ import annotations

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.schema import extend_schema

TODO = {501: OpenApiResponse(OpenApiTypes.OBJECT, description="Not implemented yet.")}


class AnthropicMessagesView(AsyncAPIView):
    @extend_schema(
        operation_id="anthropicmessagesview",
        request=None,
        responses=TODO,
        tags=["anthropic-compatible"],
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return json_response({"type": "error", "error": {"type": "api_error"}}, status=501)


class AnthropicCountTokensView(AsyncAPIView):
    @extend_schema(
        operation_id="anthropiccounttokensview",
        request=None,
        responses=TODO,
        tags=["anthropic-compatible"],
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return json_response({"type": "error", "error": {"type": "api_error"}}, status=501)
