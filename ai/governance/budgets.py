"""Budget arithmetic: the periods (UTC days and months), a request's worst-case cost, and money
as integer nano-USD (what the counters hold).

The worst case of a request is its prompt at an upper bound (one token per UTF-8 byte, which no
byte-level tokenizer exceeds, plus a few tokens of framing per message) at the input price, plus
``max_tokens`` (or ``AI_BUDGET_DEFAULT_MAX_TOKENS``) at the output price, for the most expensive
target it may be routed to. With ``max_tokens`` set the real cost cannot exceed it, so no number
of concurrent requests spends past a budget. A target with no price cannot be reserved for:
it is logged once per model and counts as free until its price is added.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ai.providers.base import Message
from ai.usage import pricing

logger = logging.getLogger("ai.governance")

NANO = Decimal(1_000_000_000)
#: Tokens a message's role and framing may add to its text (OpenAI's is 3-4).
MESSAGE_OVERHEAD = 4
_unpriced: set[tuple[str, str]] = set()


def to_nano(usd: Decimal) -> int:
    """USD as nano-USD, rounded up (a budget is never under-counted)."""
    return math.ceil(usd * NANO)


def to_usd(nano: int) -> Decimal:
    return (Decimal(nano) / NANO).quantize(Decimal("0.000001"))


def prompt_bound(messages: Sequence[Message]) -> int:
    """Tokens the prompt cannot exceed."""
    return sum(len(m.content.encode()) + MESSAGE_OVERHEAD for m in messages) + 3


def worst_case_nano(
    book: pricing.PriceBook,
    targets: Iterable[tuple[str, str]],
    prompt_tokens: int,
    completion_tokens: int,
) -> int:
    """The most a request of ``prompt_tokens`` (at most) and ``completion_tokens`` (at most) may
    cost on any of ``targets`` (``(provider, model)``), in nano-USD."""
    completion = completion_tokens
    worst = 0
    for provider, model in targets:
        price = book.price_at(provider, model)
        if price is None:
            if (provider, model) not in _unpriced:
                _unpriced.add((provider, model))
                logger.warning(
                    "%s/%s has no price: budgets cannot reserve for it, its requests count as "
                    "free until a ModelPrice is added",
                    provider,
                    model,
                )
            continue
        usd = (prompt_tokens * price.input + int(completion) * price.output) / 1_000_000
        worst = max(worst, to_nano(usd))
    return worst


# --- periods ---------------------------------------------------------------------------------


def day_end(now: datetime) -> datetime:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def month_end(now: datetime) -> datetime:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=32)).replace(day=1)


#: kind -> (start, end as timestamps, key suffix, reset time) of the period last asked for.
_periods: dict[str, tuple[float, float, str, datetime]] = {}


def period(kind: str, now: float) -> tuple[str, datetime]:
    """``(key suffix, reset time)`` of the ``"daily"`` or ``"monthly"`` period holding the
    timestamp ``now`` (computed once per period)."""
    known = _periods.get(kind)
    if known is not None and known[0] <= now < known[1]:
        return known[2], known[3]
    moment = datetime.fromtimestamp(now, UTC)
    if kind == "daily":
        suffix, start, end = (
            moment.strftime("d%Y%m%d"),
            day_end(moment) - timedelta(days=1),
            (day_end(moment)),
        )
    else:
        suffix, end = moment.strftime("m%Y%m"), month_end(moment)
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    _periods[kind] = (start.timestamp(), end.timestamp(), suffix, end)
    return suffix, end
