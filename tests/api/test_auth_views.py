"""The token views do their database work through ai.db.run_db (connections kept and closed as
Django does around a sync request: close_old_connections before and after each unit)."""

from __future__ import annotations

import threading

import pytest

import ai.db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def db_units(monkeypatch) -> list[str]:
    """The threads in which ai.db.run_db ran a unit of work (it closes old connections first)."""
    threads: list[str] = []
    original = ai.db.close_old_connections

    def spy(**kwargs):
        threads.append(threading.current_thread().name)
        return original(**kwargs)

    monkeypatch.setattr(ai.db, "close_old_connections", spy)
    return threads


@pytest.mark.parametrize("wrong_password", [False, True])
async def test_obtaining_a_token_goes_through_run_db(user, anon, db_units, wrong_password):
    password = "nope" if wrong_password else "alice-password-1"
    response = await anon.post("/api/v1/auth/token/", {"username": "alice", "password": password})
    assert response.status_code == (401 if wrong_password else 200)
    assert len(db_units) >= 2  # before and after the lookup
    assert threading.main_thread().name not in db_units


async def test_refreshing_a_token_goes_through_run_db(user, anon, db_units):
    response = await anon.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "alice-password-1"}
    )
    db_units.clear()
    response = await anon.post(
        "/api/v1/auth/token/refresh/", {"refresh": response.json()["refresh"]}
    )
    assert response.status_code == 200
    assert len(db_units) >= 2
