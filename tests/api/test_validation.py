"""Bad input: every failure is a 4xx JSON error naming the field, and nothing reaches a provider."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.management import call_command

from ai.api import bodies
from ai.api.errors import RequestTooLarge
from ai.api.openai_format import OpenAIChatRequest
from ai.api.parsers import ORJSONParser
from ai.providers.base import BaseLLMProvider
from ai.services import factory
from tests.api.conftest import CHAT, COMPLETIONS, ROUTED

pytestmark = pytest.mark.django_db(transaction=True)

USER = {"role": "user", "content": "hello"}


@pytest.fixture(autouse=True)
def no_upstream_call(monkeypatch):
    """Any provider call in these tests is a failure: bad input must be stopped at the edge."""

    def forbidden(*args, **kwargs):
        raise AssertionError("bad input reached a provider")

    monkeypatch.setattr(BaseLLMProvider, "complete", forbidden)
    monkeypatch.setattr(BaseLLMProvider, "stream", forbidden)


def _fields(response) -> dict[str, list[str]]:
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["request_id"] == response["X-Request-ID"]
    return error["fields"]


COMPLETIONS_CASES = [
    ({}, "messages", "required"),
    ({"messages": None}, "messages", "required"),
    ({"messages": []}, "messages", "at least one message"),
    ({"messages": "hello"}, "messages", "array"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages", "user message"),
    ({"messages": [USER, {"role": "robot", "content": "x"}]}, "messages[1].role", "system, user"),
    ({"messages": [{"content": "x"}]}, "messages[0].role", "missing"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content", "string"),
    ({"messages": [{"role": "user", "content": ["a"]}]}, "messages[0].content", "string"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "string"),
    ({"messages": [{"role": "user", "content": "  "}]}, "messages[0].content", "blank"),
    ({"messages": ["hello"]}, "messages[0]", "object"),
    ({"messages": [{**USER, "name": "bob"}]}, "messages[0].name", "Unknown field"),
    ({"messages": [USER], "temperature": 2.5}, "temperature", "between 0 and 2"),
    ({"messages": [USER], "temperature": -0.1}, "temperature", "between 0 and 2"),
    ({"messages": [USER], "temperature": "hot"}, "temperature", "number"),
    ({"messages": [USER], "temperature": True}, "temperature", "number"),
    ({"messages": [USER], "max_tokens": 0}, "max_tokens", "positive integer"),
    ({"messages": [USER], "max_tokens": -5}, "max_tokens", "positive integer"),
    ({"messages": [USER], "max_tokens": 10.5}, "max_tokens", "positive integer"),
    ({"messages": [USER], "max_tokens": "100"}, "max_tokens", "positive integer"),
    ({"messages": [USER], "max_tokens": 5.0}, "max_tokens", "positive integer"),
    ({"messages": [USER], "max_tokens": True}, "max_tokens", "positive integer"),
    ({"messages": [USER], "temperature": "1"}, "temperature", "between 0 and 2"),
    ({"messages": [USER], "max_tokens": 32769}, "max_tokens", "at most 32768"),
    ({"messages": [USER], "provider": "nope"}, "provider", "openai, anthropic, gemini"),
    ({"messages": [USER], "provider": 3}, "provider", "Valid providers"),
    ({"messages": [USER], "model": ""}, "model", "non-empty"),
    ({"messages": [USER], "model": "../../etc"}, "model", "not a valid model"),
    ({"messages": [USER], "model": "x" * 201}, "model", "at most 200"),
    ({"messages": [USER], "model": "gpt..4o"}, "model", "not a valid model"),
    ({"messages": [USER], "model": 5}, "model", "non-empty string"),
    ({"messages": [USER], "stream": "yes"}, "stream", "boolean"),
    ({"messages": [USER], "stream": 1}, "stream", "boolean"),
    ({"messages": [USER], "prompt": "hi"}, "prompt", "Unknown field"),
    ({"messages": [USER], "complexity": "simple"}, "complexity", "Unknown field"),
]


@pytest.mark.parametrize(("body", "field", "text"), COMPLETIONS_CASES)
async def test_completions_rejects(api, usage_events, body, field, text):
    response = await api.post(COMPLETIONS, body)
    assert response.status_code == 400, response.content
    fields = _fields(response)
    assert field in fields, fields
    assert text in " ".join(fields[field])
    assert field in response.json()["error"]["message"]
    assert usage_events == []


PROMPT_CASES = [
    ({}, "prompt", "required"),
    ({"prompt": ""}, "prompt", "blank"),
    ({"prompt": 5}, "prompt", "string"),
    ({"prompt": "hi", "system": {"a": 1}}, "system", "string"),
    ({"prompt": "hi", "messages": [USER]}, "messages", "Unknown field"),
    ({"prompt": "hi", "temperature": 9}, "temperature", "between 0 and 2"),
    ({"prompt": "hi", "max_tokens": 0}, "max_tokens", "positive integer"),
    ({"prompt": "hi", "provider": "skynet"}, "provider", "Valid providers"),
    ({"prompt": "hi", "stream": "true"}, "stream", "boolean"),
]


@pytest.mark.parametrize(("body", "field", "text"), PROMPT_CASES)
@pytest.mark.parametrize("path", [CHAT, ROUTED])
async def test_chat_endpoints_reject(api, path, body, field, text):
    response = await api.post(path, body)
    assert response.status_code == 400, response.content
    fields = _fields(response)
    assert field in fields
    assert text in " ".join(fields[field])


async def test_chat_rejects_complexity(api):
    response = await api.post(CHAT, {"prompt": "hi", "complexity": "simple"})
    assert response.status_code == 400
    assert "complexity" in _fields(response)


@pytest.mark.parametrize("value", ["hard", 3, ""])
async def test_routed_rejects_unknown_complexity_listing_valid_values(api, value):
    response = await api.post(ROUTED, {"prompt": "hi", "complexity": value})
    assert response.status_code == 400
    message = " ".join(_fields(response)["complexity"])
    assert "simple, moderate, complex, search" in message


async def test_every_error_is_reported_at_once(api):
    body = {"messages": [], "temperature": 3, "max_tokens": 0, "stream": "no", "extra": 1}
    fields = _fields(await api.post(COMPLETIONS, body))
    assert set(fields) == {"messages", "temperature", "max_tokens", "stream", "extra"}


async def test_unknown_fields_name_the_allowed_ones(api):
    fields = _fields(await api.post(CHAT, {"prompt": "hi", "messages": [USER]}))
    assert "Allowed fields:" in fields["messages"][0]
    for name in ("prompt", "system", "provider", "model", "temperature", "max_tokens", "stream"):
        assert name in fields["messages"][0]


def test_request_bodies_are_documented_by_their_models(monkeypatch):
    """The OpenAPI document is valid OpenAPI 3.0 and each endpoint's request body is the very
    model that validates it (the provider list as it is when the schema is generated)."""
    monkeypatch.setitem(factory.PROVIDER_CLASSES, "scripted", "tests.api.scripted.Scripted")
    out = io.StringIO()
    call_command("spectacular", "--validate", "--format", "openapi-json", stdout=out)
    schema = orjson.loads(out.getvalue())
    components = schema["components"]["schemas"]
    for path, model in [
        (COMPLETIONS, bodies.CompletionsRequest),
        (CHAT, bodies.ChatRequest),
        (ROUTED, bodies.RoutedChatRequest),
        ("/api/v1/openai/chat/completions", OpenAIChatRequest),
    ]:
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        component = components[body["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(component["properties"]) == set(model.model_fields), path
        # The OpenAI body takes unknown fields (passed through to OpenAI targets).
        assert component["additionalProperties"] is (model is OpenAIChatRequest)
    assert set(components["ProviderEnum"]["enum"]) == set(factory.provider_names())
    assert "scripted" in components["ProviderEnum"]["enum"]
    assert components["ComplexityEnum"]["enum"] == ["simple", "moderate", "complex", "search"]
    assert components["CompletionsRequest"]["required"] == ["messages"]


async def test_openai_endpoint_requires_a_model(api):
    response = await api.post("/api/v1/openai/chat/completions", {"messages": [USER]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "invalid_request")
    assert "model: This field is required." in error["message"]


async def test_too_many_messages(api, settings):
    settings.AI_MAX_MESSAGES = 3
    response = await api.post(COMPLETIONS, {"messages": [USER] * 4})
    assert response.status_code == 400
    assert "at most 3" in " ".join(_fields(response)["messages"])


async def test_max_tokens_limit_follows_the_setting(api, settings):
    settings.AI_MAX_TOKENS_LIMIT = 100
    response = await api.post(CHAT, {"prompt": "hi", "max_tokens": 101})
    assert "at most 100" in " ".join(_fields(response)["max_tokens"])


@pytest.mark.parametrize("raw", [b'{"prompt": "hi"', b"{'prompt': 'hi'}", b"nul", b"\xff\xfe"])
async def test_malformed_json_is_400(api, raw):
    response = await api.post(CHAT, raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("raw", [b"[]", b'"hi"', b"42", b"null"])
async def test_body_must_be_an_object(api, raw):
    response = await api.post(CHAT, raw)
    assert response.status_code == 400
    assert "body" in _fields(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_415(api, content_type):
    response = await api.post(CHAT, b'{"prompt": "hi"}', content_type=content_type)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_body_over_the_limit_is_413(api, settings):
    settings.AI_MAX_BODY_BYTES = 1000
    response = await api.post(CHAT, {"prompt": "x" * 2000})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert "1000 bytes" in error["message"]


async def test_content_length_is_checked_before_reading(api, settings, monkeypatch):
    settings.AI_MAX_BODY_BYTES = 1000

    def unreachable(*args, **kwargs):
        raise AssertionError("the body was read")

    monkeypatch.setattr("ai.api.parsers.ORJSONParser.parse", unreachable)
    response = await api.post(CHAT, {"prompt": "x" * 2000})
    assert response.status_code == 413


def test_body_larger_than_its_content_length_claims_is_413(settings):
    """A body whose Content-Length understates it is still bounded by the parser's read."""
    settings.AI_MAX_BODY_BYTES = 10
    with pytest.raises(RequestTooLarge):
        ORJSONParser().parse(io.BytesIO(b'{"prompt": "far too long"}'))


async def test_accept_event_stream_still_gets_json_errors(api):
    response = await api.post(
        CHAT, {"prompt": "", "stream": True}, headers={"accept": "text/event-stream"}
    )
    assert response.status_code == 400
    assert "prompt" in _fields(response)


async def test_unacceptable_accept_is_406_in_json(api):
    response = await api.post(CHAT, {"prompt": "hi"}, headers={"accept": "text/html"})
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


async def test_get_on_a_post_endpoint_is_405_in_json(api):
    response = await api.get(CHAT)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["X-Request-ID"]


def test_an_error_inside_the_second_model_of_a_tagged_union_names_its_path():
    """The tag picks the member: ``pet.bark``, not an unknown field ``pet.dog`` of the first."""
    from typing import Annotated, Literal

    from pydantic import Discriminator, Tag

    from ai.api.errors import InvalidRequest
    from ai.api.validation import RequestBody, validate

    class Cat(RequestBody):
        type: Literal["cat"]
        lives: int

    class Dog(RequestBody):
        type: Literal["dog"]
        bark: str

    class Pet(RequestBody):
        pet: Annotated[
            Annotated[Cat, Tag("cat")] | Annotated[Dog, Tag("dog")], Discriminator("type")
        ]

    with pytest.raises(InvalidRequest) as err:
        validate(Pet, {"pet": {"type": "dog", "bark": 1}})
    assert list(err.value.fields) == ["pet.bark"]
    with pytest.raises(InvalidRequest) as err:
        validate(Pet, {"pet": {"type": "dog", "bark": "woof", "wag": True}})
    assert list(err.value.fields) == ["pet.wag"]
