"""The views' content negotiation: DRF's answer, remembered per ``Accept`` value."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from ai.api.base import FastContentNegotiation
from ai.api.renderers import EventStreamRenderer, ORJSONRenderer

ACCEPTS = [
    "text/event-stream",
    "text/event-stream, application/json",
    "application/json; indent=4",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/*",
    "text/*;q=0.5, application/json;q=0.1",
]


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch):
    monkeypatch.setattr(FastContentNegotiation, "_memo", {})


def _request(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().post("/x" + query, **headers))


def _renderers() -> list:
    return [ORJSONRenderer(), EventStreamRenderer()]


def _choice(negotiation, accept: str | None, query: str = "", suffix=None):
    renderers = _renderers()
    try:
        renderer, media_type = negotiation.select_renderer(
            _request(accept, query), renderers, suffix
        )
    except (exceptions.NotAcceptable, Http404) as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type, renderer in renderers


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_same_choice_as_drf_first_and_from_memory(accept):
    expected = _choice(DefaultContentNegotiation(), accept)
    fast = FastContentNegotiation()
    assert _choice(fast, accept) == expected
    assert len(FastContentNegotiation._memo) == 1
    # Remembered: the second answer is the same, and is one of this request's renderers.
    assert _choice(fast, accept) == expected
    assert expected[2] is True


def test_a_refusal_is_not_remembered():
    fast = FastContentNegotiation()
    assert _choice(fast, "text/html") == "NotAcceptable"
    assert _choice(fast, "text/html") == "NotAcceptable"
    assert FastContentNegotiation._memo == {}


@pytest.mark.parametrize(
    ("query", "suffix"), [("?format=json", None), ("?format=sse", None), ("", "sse")]
)
def test_a_format_asked_for_is_drfs_to_decide(query, suffix):
    accept = "text/event-stream"
    expected = _choice(DefaultContentNegotiation(), accept, query, suffix)
    assert _choice(FastContentNegotiation(), accept, query, suffix) == expected
    assert FastContentNegotiation._memo == {}
    # ... and a remembered answer for the same Accept does not override it.
    _choice(FastContentNegotiation(), accept)
    assert _choice(FastContentNegotiation(), accept, query, suffix) == expected


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(FastContentNegotiation, "MEMO_SIZE", 3)
    fast = FastContentNegotiation()
    for i in range(10):
        assert _choice(fast, f"text/event-stream; n={i}")[0] == "EventStreamRenderer"
    assert len(FastContentNegotiation._memo) == 3


def test_another_renderer_list_is_another_entry():
    fast = FastContentNegotiation()
    only_json = [ORJSONRenderer()]
    with pytest.raises(exceptions.NotAcceptable):
        fast.select_renderer(_request("text/event-stream"), only_json)
    assert _choice(fast, "text/event-stream")[0] == "EventStreamRenderer"
    with pytest.raises(exceptions.NotAcceptable):
        fast.select_renderer(_request("text/event-stream"), only_json)
