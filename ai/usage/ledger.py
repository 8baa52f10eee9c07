"""The one call the request path makes to the ledger.

The gateway calls :func:`record_usage` exactly once per request, in a ``finally`` path, whatever
the outcome. The call only puts the event on an in-process queue (:mod:`ai.usage.writer`); a
background thread prices it and writes it in batches, so recording adds microseconds to a
response and a database problem is logged, never raised into it.
"""

from __future__ import annotations

import logging

from django.core.signals import setting_changed
from django.dispatch import receiver

from ai.conf import ai_settings
from ai.usage.events import UsageEvent
from ai.usage.writer import writer as _writer

logger = logging.getLogger("ai.usage")


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
