"""Turning usage events into ledger rows and writing a batch of them (synchronous; runs on the
writer's thread, see :mod:`ai.usage.writer`).

A batch is one ``bulk_create``. On a connection-level failure (database restarting, locked) the
batch is retried after a pause on a fresh connection; on a row-level failure (a user deleted
meanwhile, a bad value) the rows are written one by one so only the bad ones are lost. Whatever
is lost is logged at ERROR with the count and the request ids, and nothing is ever raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from ai.usage.events import UsageEvent
from ai.usage.pricing import PriceBook, get_price_book

logger = logging.getLogger("ai.usage")

#: Attempts for a batch that fails on the connection, and the first pause between them.
CONNECTION_ATTEMPTS = 3
RETRY_PAUSE_S = 0.5

_STATUSES = {"ok", "error", "cancelled"}


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    lost: int


def _clip(value: object, length: int) -> str:
    return str(value or "")[:length]


def _ms(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


def to_record(event: UsageEvent, book: PriceBook):  # -> UsageRecord
    """The ledger row for ``event``. Cost: the caller's (what the client was shown) when it set
    one, else computed now at the price in effect at ``event.created_at``; None when unknown."""
    from ai.models import UsageRecord

    usage = event.usage
    cost: Decimal | None = event.cost
    if cost is None:
        cost = book.cost(event.provider, event.model, usage, event.created_at)
    status = event.status if event.status in _STATUSES else "error"
    return UsageRecord(
        created_at=event.created_at,
        request_id=_clip(event.request_id, 64),
        user_id=event.user_id,
        endpoint=_clip(event.endpoint, 64),
        provider=_clip(event.provider, 32),
        model=_clip(event.model, 128),
        complexity=_clip(getattr(event.complexity, "value", event.complexity), 16),
        streamed=bool(event.streamed),
        status=status,
        error_code=_clip(event.error_code, 64),
        prompt_tokens=max(0, usage.prompt_tokens) if usage else 0,
        completion_tokens=max(0, usage.completion_tokens) if usage else 0,
        total_tokens=max(0, usage.total_tokens) if usage else 0,
        cached_tokens=max(0, usage.cached_tokens) if usage else 0,
        reasoning_tokens=max(0, usage.reasoning_tokens) if usage else 0,
        usage_source=usage.source if usage else UsageRecord.Source.NONE,
        cost=cost,
        latency_ms=_ms(event.latency_ms) or 0,
        ttft_ms=_ms(event.ttft_ms),
        upstream_request_id=_clip(event.upstream_request_id, 128),
    )


def _ids(events: Sequence[UsageEvent], limit: int = 20) -> str:
    ids = ", ".join(e.request_id for e in events[:limit])
    return ids + (f" and {len(events) - limit} more" if len(events) > limit else "")


def write_events(events: Sequence[UsageEvent]) -> WriteResult:
    """Write ``events`` to the ledger. Never raises; logs what it could not write."""
    from ai.models import UsageRecord

    if not events:
        return WriteResult(0, 0)
    try:
        book = get_price_book()
        records = [to_record(e, book) for e in events]
    except Exception:
        logger.exception(
            "usage ledger: LOST %d usage events (could not build rows): %s",
            len(events), _ids(events),
        )  # fmt: skip
        return WriteResult(0, len(events))

    last_error: Exception | None = None
    for attempt in range(CONNECTION_ATTEMPTS):
        try:
            UsageRecord.objects.bulk_create(records)
            return WriteResult(len(records), 0)
        except (OperationalError, InterfaceError) as err:
            last_error = err
            logger.warning(
                "usage ledger: writing %d rows failed (%s), attempt %d of %d",
                len(records), type(err).__name__, attempt + 1, CONNECTION_ATTEMPTS,
            )  # fmt: skip
            _reset_connection()
            if attempt + 1 < CONNECTION_ATTEMPTS:
                time.sleep(RETRY_PAUSE_S * 2**attempt)
        except DatabaseError:
            return _write_one_by_one(events, records)
        except Exception as err:
            last_error = err
            break
    logger.error(
        "usage ledger: LOST %d usage rows, the database refused them (%s: %s). Request ids: %s",
        len(records), type(last_error).__name__, last_error, _ids(events),
    )  # fmt: skip
    return WriteResult(0, len(records))


def _write_one_by_one(events: Sequence[UsageEvent], records: list) -> WriteResult:
    written, lost = 0, []
    for event, record in zip(events, records, strict=True):
        try:
            record.save(force_insert=True)
            written += 1
        except Exception as err:
            lost.append(event)
            logger.error(
                "usage ledger: LOST usage row for request %s (%s: %s)",
                event.request_id, type(err).__name__, err,
            )  # fmt: skip
    if lost:
        logger.error(
            "usage ledger: LOST %d of %d usage rows in a batch; wrote the other %d",
            len(lost), len(records), written,
        )  # fmt: skip
    return WriteResult(written, len(lost))


def _reset_connection() -> None:
    try:
        connection.close()
    except Exception:
        logger.debug("usage ledger: closing a broken connection failed", exc_info=True)
