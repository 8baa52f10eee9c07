"""The OpenAPI schema and docs page (``ai.docs_urls``): generated without warnings, every
endpoint documented, served whatever the host's DEFAULT_SCHEMA_CLASS, docs rendered offline."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

AI_PATHS = {
    "/api/v1/app/ai/status": "get",
    "/api/v1/app/ai/completions": "post",
    "/api/v1/app/ai/chat": "post",
    "/api/v1/app/ai/chat/routed": "post",
}


def test_schema_generates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    schema = orjson.loads(out.getvalue())
    for path, method in AI_PATHS.items():
        operation = schema["paths"][path][method]
        assert {"jwtAuth": []} in operation["security"]
        assert "200" in operation["responses"]
        assert "401" in operation["responses"]
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"


async def test_schema_and_docs_are_served(anon):
    response = await anon.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    )
    assert response.status_code == 200
    schema = orjson.loads(response.content)
    chat = schema["paths"]["/api/v1/app/ai/chat"]["post"]
    ok = chat["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/event-stream"}
    assert '"type":"done"' in chat["description"] and "[DONE]" in chat["description"]
    assert "event: error" in chat["description"]
    assert set(chat["responses"]["429"]["content"]) == {"application/json"}
    assert "Retry-After" in chat["responses"]["429"]["headers"]
    docs = await anon.get("/api/docs/")
    assert docs.status_code == 200


def test_schema_without_a_default_schema_class(settings):
    """Issue 13: a host that never set REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] (DRF's own
    AutoSchema then) still gets the gateway's schema."""
    settings.REST_FRAMEWORK = {}
    response = Client().get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200, response.content[:300]
    schema = orjson.loads(response.content)
    for path, method in AI_PATHS.items():
        assert {"jwtAuth": []} in schema["paths"][path][method]["security"]


def test_docs_page_uses_local_assets():
    """Swagger UI from drf-spectacular-sidecar's static files: no CDN, so it renders offline;
    its script is a separate same-origin request (no inline script)."""
    html = Client().get("/api/docs/").content.decode()
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f'"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}"' in html
    assert "cdn" not in html.lower()
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert b"/api/schema/" in script.content


def test_docs_are_optional():
    """ai.urls alone claims no schema or docs URL."""
    from ai import urls

    assert not [
        p for p in urls.urlpatterns if "schema" in str(p.pattern) or "docs" in str(p.pattern)
    ]


def test_check_warns_when_the_docs_cannot_load_swagger_ui(settings):
    from django.core import checks

    assert "ai.W030" not in {m.id for m in checks.run_checks()}
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "drf_spectacular_sidecar"]
    assert "ai.W030" in {m.id for m in checks.run_checks()}
