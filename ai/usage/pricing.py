"""Prices and cost. (Stub: the ledger implementation replaces this.)"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ai.services.base import Usage


async def cost_of(
    provider: str, model: str, usage: Usage, at: datetime | None = None
) -> Decimal | None:
    """The cost in USD of ``usage`` on ``provider``/``model`` at the price in effect at ``at``
    (now when None); None when no price is known. Must not block the event loop."""
    return None
