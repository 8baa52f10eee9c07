"""User limits in the admin: the exemption is an explicit flag shown in the list."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from ai.models import UserLimits

pytestmark = pytest.mark.django_db


def test_user_limits_list_shows_the_exemption(client):
    users = get_user_model().objects
    admin_user = users.create_superuser("root", password="root-password-1")
    exempt = users.create_user("exempt-one", password="exempt-password-1")
    UserLimits.objects.create(user=exempt, exempt=True, rpm=5)
    client.force_login(admin_user)
    page = client.get("/admin/ai/userlimits/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "exempt-one" in body
    assert "exempt from limits and budgets" in body.lower()
    assert client.get("/admin/ai/userlimits/?exempt__exact=1").status_code == 200
    add = client.get("/admin/ai/userlimits/add/")
    assert add.status_code == 200 and "Budgets (USD" in add.content.decode()
