"""drf-spectacular extensions for the gateway's own classes (imported by ``ai.api.views``)."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema


class GatewayJWTScheme(SimpleJWTScheme):
    """Document :class:`ai.api.authentication.GatewayJWTAuthentication` as simplejwt's bearer
    scheme (spectacular matches extension targets by exact class, not subclasses)."""

    target_class = "ai.api.authentication.GatewayJWTAuthentication"
    name = "jwtAuth"


class GatewayAutoSchema(AutoSchema):
    """Spectacular's AutoSchema without the ``?format=`` query parameter it adds for views
    with several renderers: the gateway's views choose JSON or SSE from the body's ``stream``."""

    def _get_format_parameters(self) -> list:
        return []
