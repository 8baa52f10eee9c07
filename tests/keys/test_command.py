"""``manage.py ai_keys create|list|revoke``."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ai.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ai_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(user):
    before = timezone.now()
    out, err = run(
        "create", "--user", "alice", "--name", "ci", "--models", "gpt-4o-mini, openai/*",
        "--rpm", "60", "--tpm", "5000", "--budget-usd", "12.5", "--daily-budget-usd", "1",
        "--expires-in", "3600",
    )  # fmt: skip
    after = timezone.now()
    full_key = out.splitlines()[-1]
    assert out == full_key + "\n"
    key = ApiKey.objects.get()
    assert full_key.startswith(f"{key.prefix}_") and key.prefix in err
    assert key.secret_hash == hashlib.sha256(full_key.encode()).hexdigest()
    assert key.allowed_models == ["gpt-4o-mini", "openai/*"]
    assert (key.rpm, key.tpm) == (60, 5000)
    assert (key.monthly_budget_usd, key.daily_budget_usd) == (Decimal("12.5"), Decimal("1"))
    hour = timedelta(seconds=3600)
    assert before + hour <= key.expires_at <= after + hour


def test_the_secret_is_stored_nowhere(user):
    """Every column of the key's row, as the database returns it: the hash, never the key or
    its secret part."""
    out, _ = run("create", "--user", "alice", "--name", "ci")
    full_key = out.strip()
    secret = full_key.rsplit("_", 1)[1]
    row = ApiKey.objects.values().get()
    text = repr(row)
    assert full_key not in text and secret not in text
    assert row["secret_hash"] == hashlib.sha256(full_key.encode()).hexdigest()


def test_list_shows_prefix_owner_name_state_and_last_use_never_the_secret(user, make_key):
    active, active_full = make_key(name="active one")
    revoked, revoked_full = make_key(name="revoked one", revoked_at=timezone.now())
    expired, _ = make_key(name="expired one", expires_at=timezone.now())
    ApiKey.objects.filter(pk=active.pk).update(last_used_at=timezone.now())
    out, _ = run("list", "--user", "alice")
    lines = out.splitlines()
    assert lines[0].split() == ["PREFIX", "OWNER", "NAME", "STATE", "LAST", "USED"]
    by_prefix = {line.split()[0]: line for line in lines[1:]}
    assert "active" in by_prefix[active.prefix] and "never" not in by_prefix[active.prefix]
    assert "revoked" in by_prefix[revoked.prefix] and "never" in by_prefix[revoked.prefix]
    assert "expired" in by_prefix[expired.prefix]
    assert active_full not in out and revoked_full not in out
    assert active_full.rsplit("_", 1)[1] not in out


def test_revoke_by_prefix(user, make_key):
    key, _ = make_key()
    out, _ = run("revoke", key.prefix)
    assert key.prefix in out
    key.refresh_from_db()
    assert key.revoked_at is not None and key.state == "revoked"
    assert "already revoked" in run("revoke", key.prefix)[0]


@pytest.mark.parametrize(
    "args, says",
    [
        (["create", "--user", "nobody", "--name", "x"], "No user 'nobody'"),
        (["create", "--user", "alice", "--name", " "], "--name"),
        (["create", "--user", "alice", "--name", "x", "--rpm", "0"], "at least 1"),
        (["create", "--user", "alice", "--name", "x", "--budget-usd", "-3"], "USD"),
        (["create", "--user", "alice", "--name", "x", "--models", "gpt 4o"], "--models"),
        (["revoke", "aig_nothere"], "No API key"),
    ],
)
def test_bad_input_is_a_command_error(user, args, says):
    with pytest.raises((CommandError, SystemExit)) as caught:
        run(*args)
    if isinstance(caught.value, CommandError):
        assert says in str(caught.value)
    assert not ApiKey.objects.exists()
