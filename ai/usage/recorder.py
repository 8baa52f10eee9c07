"""Turning usage events into ledger rows and writing a batch of them (synchronous; runs on the
writer's thread, see :mod:`ai.usage.writer`).

A batch is one multi-row INSERT (:func:`insert_rows`). On a connection-level failure (database
restarting, locked) the batch is retried after a pause on a fresh connection; on a row-level
failure (a user deleted meanwhile, a bad value) the rows are written one by one so only the bad
ones are lost. Whatever is lost is logged at ERROR with the count and the request ids, and
nothing is ever raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from ai.usage.events import UsageEvent
from ai.usage.pricing import PriceBook, get_price_book

logger = logging.getLogger("ai.usage")

#: Attempts for a batch that fails on the connection, and the first pause between them.
CONNECTION_ATTEMPTS = 3
RETRY_PAUSE_S = 0.5

_STATUSES = {"ok", "error", "cancelled"}

#: Rows built between two voluntary releases of the GIL. This thread shares the GIL with the
#: event loop; left alone, a waiting loop gets it back only after the 5 ms switch interval, which
#: shows up as loop lag during a big batch. Releasing it every ~50 rows (well under 1 ms of work)
#: keeps that lag near the loop's idle level.
YIELD_EVERY = 50


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    lost: int


def _clip(value: object, length: int) -> str:
    return str(value or "")[:length]


def _ms(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


#: The ledger columns a row is written with (UsageRecord field names), in :func:`to_row` order.
FIELDS = (
    "created_at",
    "request_id",
    "user",
    "endpoint",
    "provider",
    "model",
    "complexity",
    "streamed",
    "status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "usage_source",
    "cost",
    "latency_ms",
    "ttft_ms",
    "upstream_request_id",
    "priced_model",
    "api_key",
    "routing",
)


def to_row(event: UsageEvent, book: PriceBook) -> tuple[Any, ...]:
    """The ledger row for ``event``, as values in :data:`FIELDS` order. Cost: the caller's
    (what the client was shown) when it set one, else computed now at the price in effect at
    ``event.created_at``; None when unknown."""
    usage = event.usage
    cost: Decimal | None = event.cost
    priced_model = event.priced_model
    if cost is None:
        cost, priced_model = book.cost_with_fallback(
            event.provider, event.model, usage, event.created_at, event.requested_model
        )
    if usage is None:
        tokens: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
        source = "none"
    else:
        tokens = tuple(
            max(0, n)
            for n in (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
                usage.cached_tokens,
                usage.reasoning_tokens,
                usage.cache_write_tokens,
            )
        )
        source = usage.source
    return (
        event.created_at,
        _clip(event.request_id, 64),
        event.user_id,
        _clip(event.endpoint, 64),
        _clip(event.provider, 32),
        _clip(event.model, 128),
        _clip(getattr(event.complexity, "value", event.complexity), 16),
        bool(event.streamed),
        event.status if event.status in _STATUSES else "error",
        _clip(event.error_code, 64),
        *tokens,
        source,
        cost,
        _ms(event.latency_ms) or 0,
        _ms(event.ttft_ms),
        _clip(event.upstream_request_id, 128),
        _clip(priced_model, 128),
        event.api_key_id,
        _clip(event.routing, 512),
    )


def insert_rows(rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (from :func:`to_row`) in one transaction: all or nothing.

    PostgreSQL (psycopg 3) gets a ``COPY ... FROM STDIN``, one round trip per batch; other
    backends an ``executemany`` of one prepared INSERT. Not ``bulk_create``: measured with
    bench/usage_writer.py, the ORM spends ~150 us of Python per row compiling model instances,
    and psycopg's parsing of a 500-row multi-VALUES statement costs about as much; COPY and
    executemany cost a fraction of that on a thread that shares the GIL with the event loop.
    Values go through the backend's own adapters, so dates and decimals stay portable."""
    from ai.models import UsageRecord

    if not rows:
        return
    ops = connection.ops
    meta = UsageRecord._meta
    table = ops.quote_name(meta.db_table)
    columns = ", ".join(ops.quote_name(meta.get_field(name).column) for name in FIELDS)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        raw = getattr(cursor, "cursor", None)
        if connection.vendor == "postgresql" and hasattr(raw, "copy"):
            # Errors raised by the raw driver cursor become Django's DatabaseError subclasses.
            with (
                connection.wrap_database_errors,
                raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for i, row in enumerate(rows):
                    copy.write_row(row)
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        time.sleep(0)
            return
        adapt = ops.adapt_datetimefield_value
        placeholders = ", ".join(["%s"] * len(FIELDS))
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
            [(adapt(row[0]), *row[1:]) for row in rows],
        )


def _ids(events: Sequence[UsageEvent], limit: int = 20) -> str:
    ids = ", ".join(e.request_id for e in events[:limit])
    return ids + (f" and {len(events) - limit} more" if len(events) > limit else "")


def write_events(events: Sequence[UsageEvent]) -> WriteResult:
    """Write ``events`` to the ledger. Never raises; logs what it could not write."""
    if not events:
        return WriteResult(0, 0)
    try:
        book = get_price_book()
        records = []
        for i, e in enumerate(events):
            records.append(to_row(e, book))
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                time.sleep(0)  # let the event loop's thread take the GIL (see YIELD_EVERY)
    except Exception:
        logger.exception(
            "usage ledger: LOST %d usage events (could not build rows): %s",
            len(events), _ids(events),
        )  # fmt: skip
        return WriteResult(0, len(events))

    last_error: Exception | None = None
    for attempt in range(CONNECTION_ATTEMPTS):
        try:
            insert_rows(records)
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
            insert_rows([record])
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
