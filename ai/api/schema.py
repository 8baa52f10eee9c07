"""The OpenAPI schema and docs page of the gateway's API (mounted by ``ai.docs_urls``), and the
drf-spectacular extensions for the gateway's own classes.

Both views work whatever the host's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` and
``SPECTACULAR_SETTINGS``: the schema covers the app's own views only (each carries
:class:`GatewayAutoSchema`), and the docs page loads Swagger UI from drf-spectacular-sidecar's
static files, so it renders offline.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import patched_settings
from drf_spectacular.utils import extend_schema as spectacular_extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

#: Spectacular settings for the docs view only (the host's SPECTACULAR_SETTINGS are untouched).
DOCS_SETTINGS = {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}


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


def extend_schema(**kwargs: Any) -> Callable[[Any], Any]:
    """drf-spectacular's ``extend_schema`` for the gateway's view methods. Spectacular's own
    builds a method's schema on ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` as it is when the
    decorator runs (a host without it gets DRF's, which spectacular then refuses); this one
    builds it on :class:`GatewayAutoSchema`, whatever the host's setting."""
    decorate = spectacular_extend_schema(**kwargs)

    def decorator(f: Any) -> Any:
        if not inspect.isclass(f) and getattr(f, "schema", None) is None:
            f.schema = GatewayAutoSchema  # the base spectacular's decorator builds on
        return decorate(f)

    return decorator


class GatewayEndpointEnumerator(EndpointEnumerator):
    """The project's URL patterns, wherever ``ai.urls`` is included, keeping only the app's
    own views (``ai_gateway_view``): a host view with another schema class is not ours to
    document, and spectacular would refuse it."""

    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        view_class = getattr(callback, "cls", None)
        if not getattr(view_class, "ai_gateway_view", False):
            return False
        return super().should_include_endpoint(path, callback)


class GatewaySchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = GatewayEndpointEnumerator


class GatewaySchemaView(SpectacularAPIView):
    """The gateway's OpenAPI schema (YAML, or JSON with ``Accept:
    application/vnd.oai.openapi+json``)."""

    generator_class = GatewaySchemaGenerator
    schema = AutoSchema()


class GatewayDocsView(SpectacularSwaggerSplitView):
    """Swagger UI for :class:`GatewaySchemaView`, its assets served from the host's static files
    (drf-spectacular-sidecar), its script a separate request (no inline script for a CSP)."""

    url_name = "ai_docs:schema"
    title = "AI gateway API"
    schema = AutoSchema()

    @spectacular_extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with patched_settings(DOCS_SETTINGS):
            return super().get(request, *args, **kwargs)
