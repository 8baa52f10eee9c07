"""manage.py ai_issue_token: a working token in one command."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import include, path

from tests.api.conftest import STATUS, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("ai_issue_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_unknown_user_without_create_fails():
    with pytest.raises(CommandError, match="--create"):
        _run("nobody")


def test_create_makes_a_user_without_a_usable_password():
    output = _run("bob", "--create")
    assert output.startswith("access:  ")
    assert "refresh: " in output
    user = get_user_model().objects.get(username="bob")
    assert not user.has_usable_password()


def test_existing_user_and_access_only():
    get_user_model().objects.create_user("carol")
    token = _run("carol", "--access-only").strip()
    assert token.count(".") == 2 and "\n" not in token


def test_inactive_user_is_refused():
    get_user_model().objects.create_user("dave", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        _run("dave")


async def test_issued_token_works():
    from asgiref.sync import sync_to_async

    token = (await sync_to_async(_run)("erin", "--create", "--access-only")).strip()
    response = await ApiClient(token).get(STATUS)
    assert response.status_code == 200


def test_the_hint_uses_the_port_the_server_runs_on(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.delenv("HOST", raising=False)
    assert "http://127.0.0.1:9123/api/v1/app/ai/status" in _run("frank", "--create")


def test_the_hint_without_port_is_runservers_default(monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("HOST", "0.0.0.0")  # a listening address, not one to call
    assert "http://127.0.0.1:8000/api/v1/app/ai/status" in _run("gina", "--create")


def test_the_hint_follows_base_url_and_the_projects_routes(settings):
    settings.ROOT_URLCONF = __name__  # ai.urls mounted under a prefix (see urlpatterns below)
    output = _run("hank", "--create", "--base-url", "https://gw.example.com/")
    assert "https://gw.example.com/llm/api/v1/app/ai/status" in output


urlpatterns = [path("llm/", include("ai.urls"))]
