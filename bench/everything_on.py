"""The "everything on" scenario of issue 10: ``python -m bench.everything_on openai -n 3000``
(``bench.inprocess``'s arguments). Each request comes with a gateway API key that has its own
rpm, tpm and daily and monthly budgets, on top of the user limits and budgets of
``bench.settings_everything_on`` (the default settings module here): every request takes from 4
token buckets and reserves in 4 budgets, all too large to refuse the benchmark. Run it with
REDIS_URL set and ``--database-url`` a PostgreSQL one for the production wiring, and compare
with ``python -m bench.inprocess`` (JWT, no limits) on the same machine.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import gateway_setup, inprocess  # noqa: E402

_setup = gateway_setup.main
_key: list[str] = []


def _setup_with_limited_key() -> None:
    _setup()
    from django.contrib.auth import get_user_model

    from ai.models import ApiKey

    user = get_user_model().objects.get(username="bench")
    _, key = ApiKey.issue(
        user,
        "bench everything on",
        rpm=100_000_000,
        tpm=2_000_000_000,
        daily_budget_usd=Decimal(1_000_000),
        monthly_budget_usd=Decimal(10_000_000),
    )
    _key.append(key)
    import rest_framework_simplejwt.tokens as tokens  # after django.setup(): reads settings

    tokens.AccessToken = _KeyInsteadOfToken  # type: ignore[misc,assignment]


class _KeyInsteadOfToken:
    """Stands in for simplejwt's AccessToken in ``bench.inprocess.measure``."""

    @staticmethod
    def for_user(user: object) -> str:
        return _key[-1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--settings" not in argv:
        argv += ["--settings", "bench.settings_everything_on"]
    gateway_setup.main = _setup_with_limited_key
    return inprocess.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
