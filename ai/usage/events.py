"""What the request path hands to the ledger, and the one call it makes.

The API calls :func:`record_usage` exactly once per request, in a ``finally`` path, whatever the
outcome. The call only puts the event on an in-process queue (:mod:`ai.usage.writer`); a
background thread prices it and writes it in batches, so recording adds microseconds to a
response and a database problem is logged, never raised into it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from ai.conf import ai_settings
from ai.services.base import Usage
from ai.usage.writer import writer as _writer

logger = logging.getLogger("ai.usage")

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One gateway request's outcome, as the ledger stores it.

    ``usage`` is None when no upstream call produced counts (a failure before the first
    token); its ``source`` says whether the counts were reported or estimated. ``cost`` is the
    cost the client was shown, if any; when None the writer prices the row itself at the price in
    effect at ``created_at`` (and leaves it null when the model has no price). ``created_at``
    is when the request was made; prices are looked up at that moment.
    """

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
    #: The provider's own id for the call (x-request-id / request-id), when it sent one.
    upstream_request_id: str = ""


#: AI_USAGE_ENABLED, cached: reading an app setting the host left unset costs a few
#: microseconds (a raised AttributeError), the whole budget of this call. Reset on change.
_enabled: bool | None = None


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: object) -> None:
    global _enabled
    if setting == "AI_USAGE_ENABLED":
        _enabled = None


def record_usage(event: UsageEvent) -> None:
    """Hand an event to the ledger. Never blocks the caller and never raises."""
    global _enabled
    try:
        if _enabled is None:
            _enabled = bool(ai_settings.AI_USAGE_ENABLED)
        if not _enabled:
            return
        _writer.submit(event)
    except Exception:
        logger.exception("usage ledger: could not record usage event %s", event)
