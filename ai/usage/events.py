"""What the request path hands to the ledger: one :class:`UsageEvent` per request (see
:func:`ai.usage.ledger.record_usage`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from ai.providers.base import Usage

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
    #: The model the gateway asked for, when the upstream reported answering with another name.
    #: When ``cost`` is None the writer prices by it if the reported model has no price.
    requested_model: str = ""
    #: The model ``cost`` was priced by, when not ``model`` (see ``requested_model``).
    priced_model: str = ""
    #: The gateway API key (``ai.models.ApiKey`` pk) the request came with; None for a JWT.
    api_key_id: int | None = None
    #: How the request was routed (``ai.services.router.RouteTrace``; the ``x-ai-route`` header).
    routing: str = ""
