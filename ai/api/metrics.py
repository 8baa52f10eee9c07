"""``GET /api/v1/app/ai/metrics``: the gateway's Prometheus metrics (``ai.metrics``).

For staff users (a JWT, or a gateway API key whose owner is staff), and for a scraper that
sends ``Authorization: Bearer <AI_METRICS_TOKEN>`` when that setting is set. 404 when
``AI_METRICS_ENABLED`` is False.
"""

from __future__ import annotations

import hmac
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ai import metrics
from ai.api.base import AsyncAPIView
from ai.api.bodies import ErrorResponse
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.conf import ai_settings


class _ScrapeToken:
    """``request.auth`` of a request that sent the metrics token."""

    def __repr__(self) -> str:
        return "<metrics token>"


SCRAPE_TOKEN = _ScrapeToken()


def _sent_token(request: Request) -> bool:
    token = ai_settings.AI_METRICS_TOKEN
    if not token:
        return False
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not value:
        return False
    return hmac.compare_digest(value.strip().encode(), str(token).encode())


class IsStaffOrScraper(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is SCRAPE_TOKEN:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class _AnyAccept(BaseContentNegotiation):
    """The body's format follows the scraper's ``Accept`` (``metrics.exposition``), never a
    406; errors are JSON."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None):  # type: ignore[override]
        return renderers[0], renderers[0].media_type


class MetricsView(AsyncAPIView):
    permission_classes: ClassVar[list] = [IsStaffOrScraper]
    renderer_classes: ClassVar[list] = [ORJSONRenderer]
    content_negotiation_class = _AnyAccept

    async def aperform_authentication(self, request: Request) -> None:
        # Before the JWT authentication, which would refuse the token as a malformed JWT.
        if _sent_token(request):
            request.user, request.auth = AnonymousUser(), SCRAPE_TOKEN
            return
        await super().aperform_authentication(request)

    @extend_schema(
        operation_id="ai_metrics",
        summary="Prometheus metrics",
        description="The gateway's metrics in the Prometheus text format (OpenMetrics when the "
        "`Accept` header asks for it): requests by provider, model, route, surface and outcome, "
        "durations, time to first token, tokens, cost, requests and streams in flight, upstream "
        "retries and fallbacks, rate-limit and budget refusals. For staff users, or with "
        "`Authorization: Bearer <AI_METRICS_TOKEN>`. Each worker process answers with its own "
        "numbers unless `PROMETHEUS_MULTIPROC_DIR` is set.",
        tags=["ai"],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
            401: OpenApiResponse(ErrorResponse, description="No valid credentials."),
            403: OpenApiResponse(ErrorResponse, description="Not a staff user."),
            404: OpenApiResponse(ErrorResponse, description="AI_METRICS_ENABLED is False."),
        },
    )
    async def get(self, request: Request) -> HttpResponseBase:
        if not metrics.enabled():
            raise Http404("Metrics are off (AI_METRICS_ENABLED).")
        accept = request.META.get("HTTP_ACCEPT")
        if metrics.multiprocess_dir():  # reads every worker's files: off the loop
            body, content_type = await sync_to_async(metrics.exposition, thread_sensitive=False)(
                accept
            )
        else:
            body, content_type = metrics.exposition(accept)
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response
