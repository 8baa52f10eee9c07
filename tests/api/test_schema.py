"""The OpenAPI schema: generated without warnings, every endpoint documented, and in step with
the validators that actually run."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.management import call_command

from ai.api import serializers, validation

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
        assert operation["security"] == [{"jwtAuth": []}]
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


@pytest.mark.parametrize(
    ("serializer", "fields"),
    [
        (serializers.CompletionsRequestSerializer, validation.COMPLETIONS_FIELDS),
        (serializers.ChatRequestSerializer, validation.CHAT_FIELDS),
        (serializers.RoutedChatRequestSerializer, validation.ROUTED_FIELDS),
    ],
)
def test_documented_request_fields_are_the_validated_ones(serializer, fields):
    assert set(serializer().fields) == set(fields)


def test_documented_choices_are_the_validated_ones():
    assert set(serializers.MessageSerializer().fields["role"].choices) == set(validation.ROLES)
    routed = serializers.RoutedChatRequestSerializer().fields
    assert set(routed["complexity"].choices) == set(validation.COMPLEXITIES)
