"""What the request path hands to the ledger. (Stub: the ledger implementation replaces
record_usage with a batched, non-blocking writer.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from ai.services.base import Usage

logger = logging.getLogger("ai.usage")

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One gateway request's outcome, as the ledger stores it."""

    request_id: str
    endpoint: str
    status: str
    user_id: int | None = None
    provider: str = ""
    model: str = ""
    complexity: str = ""
    usage: Usage | None = None
    cost: Decimal | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    streamed: bool = False
    error_code: str = ""
    created_at: datetime = field(default_factory=timezone.now)


def record_usage(event: UsageEvent) -> None:
    """Hand an event to the ledger. Never blocks the caller and never raises."""
    logger.debug("usage %s", event)
