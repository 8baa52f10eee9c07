"""Prices and cost: Decimal arithmetic on the price in effect when a request was made.

Prices live in :class:`ai.models.ModelPrice` (history by ``valid_from``). Each process keeps the
whole table in memory as a :class:`PriceBook` (a few hundred rows at most): loaded once, reloaded
after :data:`PRICE_CACHE_SECONDS` and whenever a price is saved or deleted in this process (other
processes see the change within the TTL). So :func:`cost_of` on the request path costs a dict
lookup, and a model with no known price costs ``None``, never ``0``.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ai.db import run_db
from ai.providers._loop import PerLoop
from ai.providers.base import Usage

logger = logging.getLogger("ai.usage")

#: How long a process trusts its price book before reloading it, in seconds.
PRICE_CACHE_SECONDS = 60.0
#: Costs are kept to 10 decimal places (USD); the ledger column has the same scale.
COST_QUANTUM = Decimal("0.0000000001")
_MILLION = Decimal(1_000_000)

# Upstreams answer with dated snapshots ("gpt-4o-mini-2024-07-18", "claude-haiku-4-5-20251001")
# and Gemini with a "models/" prefix; a price listed for the base name applies to them.
#: The model name of a price that applies to every model of its provider.
ANY_MODEL = "*"
# Dated or versioned snapshots priced as their base model: -2024-08-06, -20250929, -0613, -001.
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3}|latest)$")


#: What writing a prompt to the cache costs, times the input price: Anthropic's multipliers
#: for a five-minute and an hour-long breakpoint (the only vendor that bills writes).
CACHE_WRITE_5M = Decimal("1.25")
CACHE_WRITE_1H = Decimal("2")


@dataclass(frozen=True, slots=True)
class Price:
    """A price per million tokens, in effect from ``valid_from``."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None
    valid_from: datetime

    def cost(self, usage: Usage) -> Decimal:
        """USD for ``usage``: cached input at the cached price (or the input price when none is
        listed), prompt-cache writes at the input price times :data:`CACHE_WRITE_5M` or
        :data:`CACHE_WRITE_1H`, the rest of the prompt at the input price, completion
        (reasoning included) at the output price."""
        prompt = max(usage.prompt_tokens, 0)
        cached = min(max(usage.cached_tokens, 0), prompt)
        written = min(max(usage.cache_write_tokens, 0), prompt - cached)
        long = min(max(usage.cache_write_1h_tokens, 0), written)
        fresh = prompt - cached - written
        cached_price = self.input if self.cached_input is None else self.cached_input
        total = (
            fresh * self.input
            + cached * cached_price
            + (written - long) * self.input * CACHE_WRITE_5M
            + long * self.input * CACHE_WRITE_1H
            + max(usage.completion_tokens, 0) * self.output
        )
        return (total / _MILLION).quantize(COST_QUANTUM)


def normalize_model(model: str) -> str:
    """The base name a dated or prefixed model name is priced under."""
    name = model.strip()
    name = name.removeprefix("models/")
    return _DATE_SUFFIX.sub("", name)


#: When a declared price (an OpenAI-compatible provider's settings) is taken to start.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _declared(provider: str, model: str) -> Price | None:
    """A price from an OpenAI-compatible provider's declaration (``AI_PROVIDERS`` "prices"; 0
    for a provider declared without a key: a local server), when the table has none."""
    from ai.services.compatible import declared_price

    price = declared_price(provider, model)
    if price is None:
        return None
    return Price(price["input"], price["output"], price["cached_input"], _EPOCH)


class PriceBook:
    """Every known price, by (provider, model), in ``valid_from`` order."""

    def __init__(self, prices: Iterable[tuple[str, str, Price]] = ()) -> None:
        table: dict[tuple[str, str], list[Price]] = {}
        for provider, model, price in prices:
            table.setdefault((provider, model), []).append(price)
        for history in table.values():
            history.sort(key=lambda p: p.valid_from)
        self._table = table
        self._starts = {key: [p.valid_from for p in h] for key, h in table.items()}

    def __len__(self) -> int:
        return sum(len(h) for h in self._table.values())

    def price_at(self, provider: str, model: str, at: datetime | None = None) -> Price | None:
        """The price in effect at ``at`` (now when None): the latest ``valid_from <= at``.
        None when the model has no price, or none yet at that moment."""
        at = at or timezone.now()
        key = (provider, model)
        starts = self._starts.get(key)
        if starts is None:
            key = (provider, normalize_model(model))
            starts = self._starts.get(key)
        if starts is None:
            # A provider-wide price (model "*"), e.g. the offline provider, free for any model.
            key = (provider, ANY_MODEL)
            starts = self._starts.get(key)
            if starts is None:
                return _declared(provider, model)
        i = bisect.bisect_right(starts, at)
        return self._table[key][i - 1] if i else None

    def cost(
        self, provider: str, model: str, usage: Usage | None, at: datetime | None = None
    ) -> Decimal | None:
        """USD for ``usage`` at the price in effect at ``at``; None when the price is unknown.
        A request that used no tokens costs 0 whatever its model."""
        if usage is None or (usage.prompt_tokens <= 0 and usage.completion_tokens <= 0):
            return Decimal(0).quantize(COST_QUANTUM)
        price = self.price_at(provider, model, at)
        return None if price is None else price.cost(usage)

    def cost_with_fallback(
        self,
        provider: str,
        model: str,
        usage: Usage | None,
        at: datetime | None = None,
        requested_model: str = "",
    ) -> tuple[Decimal | None, str]:
        """``(cost, priced_model)``: the cost of the model that answered or, when it has no price
        (an alias or snapshot the upstream reported, such as Gemini's ``modelVersion``), of the
        model that was asked for. ``priced_model`` names that other model ("" otherwise)."""
        cost = self.cost(provider, model, usage, at)
        if cost is None and requested_model and requested_model != model:
            cost = self.cost(provider, requested_model, usage, at)
            if cost is not None:
                return cost, requested_model
        return cost, ""


# --- the per-process cache -------------------------------------------------------------------


class _Cache:
    def __init__(self) -> None:
        self.book: PriceBook | None = None
        self.loaded_at = 0.0
        self.loaded_generation = -1
        self.generation = 0
        self.lock = threading.Lock()
        self.async_locks: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)

    def fresh(self) -> PriceBook | None:
        book = self.book
        if (
            book is not None
            and self.loaded_generation == self.generation
            and time.monotonic() - self.loaded_at < PRICE_CACHE_SECONDS
        ):
            return book
        return None

    def store(self, book: PriceBook, generation: int) -> PriceBook:
        self.book, self.loaded_at, self.loaded_generation = book, time.monotonic(), generation
        return book


_cache = _Cache()


def invalidate_prices(**_: Any) -> None:
    """Forget the cached price book (a price changed). Also a signal receiver."""
    _cache.generation += 1


def _query() -> Any:
    from ai.models import ModelPrice

    return ModelPrice.objects.values_list(
        "provider", "model", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
        "valid_from",
    )  # fmt: skip


def _book(rows: Iterable[tuple[Any, ...]]) -> PriceBook:
    return PriceBook(
        (provider, model, Price(inp, out, cached, valid_from))
        for provider, model, inp, out, cached, valid_from in rows
    )


def _failed(err: Exception, generation: int) -> PriceBook:
    # Keep serving the last good prices; with none, costs are unknown (null), never 0.
    logger.error("usage ledger: could not load model prices (%s: %s)", type(err).__name__, err)
    return _cache.store(_cache.book or PriceBook(), generation)


def get_price_book() -> PriceBook:
    """The current price book, loaded synchronously if needed (not for the event loop)."""
    book = _cache.fresh()
    if book is not None:
        return book
    with _cache.lock:
        book = _cache.fresh()
        if book is not None:
            return book
        generation = _cache.generation
        try:
            return _cache.store(_book(list(_query())), generation)
        except Exception as err:
            return _failed(err, generation)


async def aget_price_book() -> PriceBook:
    """The current price book; loads it in the thread pool when stale (once per loop at a
    time)."""
    book = _cache.fresh()
    if book is not None:
        return book
    async with _cache.async_locks.get():
        book = _cache.fresh()
        if book is not None:
            return book
        generation = _cache.generation
        try:
            rows = await run_db(lambda: list(_query()))
            return _cache.store(_book(rows), generation)
        except Exception as err:
            return _failed(err, generation)


async def cost_of(
    provider: str, model: str, usage: Usage, at: datetime | None = None
) -> Decimal | None:
    """The cost in USD of ``usage`` on ``provider``/``model`` at the price in effect at ``at``
    (now when None); None when no price is known. Does not block the event loop: a dict lookup,
    plus an async reload of the price table at most once per :data:`PRICE_CACHE_SECONDS`."""
    cost, _ = await cost_with_fallback(provider, model, usage, at)
    return cost


async def cost_with_fallback(
    provider: str,
    model: str,
    usage: Usage,
    at: datetime | None = None,
    requested_model: str = "",
) -> tuple[Decimal | None, str]:
    """:func:`cost_of`, falling back to the requested model's price when the reported model has
    none (:meth:`PriceBook.cost_with_fallback`): ``(cost, priced_model)``."""
    try:
        book = await aget_price_book()
        return book.cost_with_fallback(provider, model, usage, at, requested_model)
    except Exception:  # the response must not fail because of a price lookup
        logger.exception("usage ledger: cost lookup failed for %s/%s", provider, model)
        return None, ""


def cost_of_sync(
    provider: str, model: str, usage: Usage | None, at: datetime | None = None
) -> Decimal | None:
    """:func:`cost_of` for synchronous code (the ledger writer's thread, commands)."""
    return get_price_book().cost(provider, model, usage, at)


def connect_signals() -> None:
    """Reload prices when one is saved or deleted here, and after migrate/flush."""
    from django.db.models.signals import post_delete, post_migrate, post_save

    from ai.models import ModelPrice

    post_save.connect(invalidate_prices, sender=ModelPrice, dispatch_uid="ai.prices.save")
    post_delete.connect(invalidate_prices, sender=ModelPrice, dispatch_uid="ai.prices.delete")
    post_migrate.connect(invalidate_prices, dispatch_uid="ai.prices.migrate")
