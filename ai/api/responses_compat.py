"""OpenAI Responses API compatible endpoint (work in progress: issue 11)."""

from __future__ import annotations

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.schema import extend_schema

TODO = {501: OpenApiResponse(OpenApiTypes.OBJECT, description="Not implemented yet.")}


class ResponsesView(AsyncAPIView):
    @extend_schema(
        operation_id="responsesview", request=None, responses=TODO, tags=["openai-compatible"]
    )
    async def post(self, request: Request) -> HttpResponseBase:
        return json_response({"error": {"type": "api_error"}}, status=501)
