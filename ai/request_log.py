"""One structured log record per gateway request, on the ``ai.requests`` logger, and a JSON
formatter for it.

The record's message is ``request <id> <status>``; its fields (``record.ai``, a dict) are
``request_id``, ``endpoint``, ``status``, ``error_code``, ``user_id``, ``key_prefix`` (a
gateway API key's visible prefix, never the key), ``provider``, ``model``, ``complexity``,
``prompt_tokens``, ``completion_tokens``, ``cost_usd``, ``latency_ms``, ``ttft_ms``,
``streamed``, ``cache`` and ``route``. The prompt is added (``prompt``) only when
``AI_LOG_PROMPTS`` is True. Nothing is logged unless the host enables ``ai.requests`` at INFO;
the app never configures logging itself. To get JSON lines::

    LOGGING = {
        "version": 1,
        "formatters": {"json": {"()": "ai.request_log.JSONFormatter"}},
        "handlers": {"requests": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {"ai.requests": {"handlers": ["requests"], "level": "INFO",
                                    "propagate": False}},
    }
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from ai.conf import ai_settings
from ai.keys import current_key
from ai.redact import REQUEST_MESSAGE, redact

logger = logging.getLogger("ai.requests")


def prompts_logged() -> bool:
    return bool(ai_settings.AI_LOG_PROMPTS) and logger.isEnabledFor(logging.INFO)


def log(outcome: Any, elapsed: float) -> None:
    """Log ``outcome`` (an :class:`ai.services.gateway.Outcome`) when ``ai.requests`` is on."""
    if not logger.isEnabledFor(logging.INFO):
        return
    key = current_key()
    usage = outcome.usage
    fields: dict[str, Any] = {
        "request_id": outcome.request_id,
        "endpoint": outcome.endpoint,
        "status": outcome.status,
        "error_code": outcome.error_code or None,
        "user_id": outcome.user_id,
        "key_prefix": key.prefix if key is not None else None,
        "provider": outcome.provider or None,
        "model": outcome.model or None,
        "complexity": outcome.complexity or None,
        "prompt_tokens": usage.prompt_tokens if usage is not None else None,
        "completion_tokens": usage.completion_tokens if usage is not None else None,
        "cost_usd": None if outcome.cost is None else format(outcome.cost, "f"),
        "latency_ms": round(elapsed * 1000, 2),
        "ttft_ms": None if outcome.ttft_ms is None else round(outcome.ttft_ms, 2),
        "streamed": outcome.streamed,
        "cache": outcome.cache or None,
        "route": None if outcome.routing is None else str(outcome.routing),
    }
    if outcome.prompt is not None:
        fields["prompt"] = redact(outcome.prompt)  # a key pasted into a prompt stays hidden
    logger.info(REQUEST_MESSAGE, outcome.request_id, outcome.status, extra={"ai": fields})


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, then the
    record's ``ai`` fields (an ``ai.requests`` record), and ``exc_info`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "ai", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exc_info"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(data, default=str).decode()
