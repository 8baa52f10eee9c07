"""System checks for the limits' cache (ai.E040, ai.W040)."""

from __future__ import annotations

import os

import pytest
from django.core.checks import run_checks

from ai import governance

LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _ids() -> set[str]:
    return {m.id for m in run_checks() if m.id and m.id.startswith("ai.")}


def test_limits_with_a_local_memory_cache_warn_that_they_are_per_process(settings):
    settings.CACHES = LOCAL
    assert "ai.W040" not in _ids()  # no limit set: nothing to warn about
    settings.AI_DEFAULT_RPM = 60
    [warning] = [m for m in run_checks() if m.id == "ai.W040"]
    assert "AI_DEFAULT_RPM is set" in warning.msg
    assert "each process on its own" in warning.msg
    assert "Redis" in warning.hint


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (CI: REDIS_URL)")
def test_limits_counted_in_redis_do_not_warn(settings):
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "10"
    assert governance.shared()
    assert "ai.W040" not in _ids()


def test_an_unknown_limits_cache_is_an_error(settings):
    settings.AI_LIMITS_CACHE = "limits"
    assert "ai.E040" in _ids()
