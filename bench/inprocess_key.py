"""``bench.inprocess`` with a gateway API key instead of a JWT: ``python -m bench.inprocess_key
offline -n 3000`` (same arguments). Compare with ``python -m bench.inprocess offline -n 3000``
on the same machine: the difference is what key authentication costs per request (hash,
process cache, two revocation markers, the last-used check) against the JWT path.

The key belongs to the bench user and has no model list or limits of its own; it is created
after ``bench.gateway_setup`` migrated the database, and sent as ``Authorization: Bearer``
where ``bench.inprocess`` sends its token.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import gateway_setup, inprocess  # noqa: E402

_key: list[str] = []


def _setup_with_key() -> None:
    _setup()
    from django.contrib.auth import get_user_model

    from ai.models import ApiKey

    user = get_user_model().objects.get(username="bench")
    _key.append(ApiKey.issue(user, "bench")[1])
    import rest_framework_simplejwt.tokens as tokens  # after django.setup(): reads settings

    tokens.AccessToken = _KeyInsteadOfToken  # type: ignore[misc,assignment]


class _KeyInsteadOfToken:
    """Stands in for simplejwt's AccessToken in ``bench.inprocess.measure``."""

    @staticmethod
    def for_user(user: object) -> str:
        return _key[-1]


_setup = gateway_setup.main


def main(argv: list[str] | None = None) -> int:
    gateway_setup.main = _setup_with_key
    return inprocess.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
