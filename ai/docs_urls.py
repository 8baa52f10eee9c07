"""The gateway's OpenAPI schema and docs page, mounted wherever the host wants them::

    path("api/", include("ai.docs_urls")),   # /api/schema/ and /api/docs/

The docs page needs ``"drf_spectacular_sidecar"`` in INSTALLED_APPS (``ai.W030`` says so).
"""

from django.urls import path

from ai.api.schema import GatewayDocsView, GatewaySchemaView

app_name = "ai_docs"

urlpatterns = [
    path("schema/", GatewaySchemaView.as_view(), name="schema"),
    path("docs/", GatewayDocsView.as_view(), name="docs"),
]
