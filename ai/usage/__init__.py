"""The usage ledger: every gateway request recorded, priced and kept.

The request path only calls :func:`record_usage` (never blocks, never raises).
"""

from ai.usage.events import UsageEvent, record_usage

__all__ = ["UsageEvent", "record_usage"]
