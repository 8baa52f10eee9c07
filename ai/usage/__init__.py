"""The usage ledger: every gateway request recorded, priced and kept.

The request path only calls :func:`record_usage` (never blocks, never raises) and
:func:`ai.usage.pricing.cost_of` for the cost it shows; :func:`flush_usage` waits for the
background writer (tests, shutdown).
"""

from ai.usage.events import UsageEvent
from ai.usage.ledger import record_usage
from ai.usage.writer import flush_usage, flush_usage_sync

__all__ = ["UsageEvent", "flush_usage", "flush_usage_sync", "record_usage"]
