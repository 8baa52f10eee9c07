"""Secrets out of log records: the configured provider keys, and anything shaped like a key, a
bearer token or an ``Authorization``/``x-api-key`` header value.

:class:`RedactingFilter` is on the gateway's error logger (``ai.api``), so the record a handler,
a JSON formatter or Sentry's logging integration receives is already clean: its message, its
arguments, and the exception it carries (each exception of the chain has its ``args`` and
``__notes__`` redacted in place, so the traceback's last lines and Sentry's exception values are
clean). An exception whose text still holds a secret after that (a ``__str__`` that does not come
from ``args``) is not attached: its traceback goes into the message as redacted text instead.

:func:`protect_app_loggers` (called at startup) puts it on every logger of the app (a logger's
filters see only the records logged on it, not its children's). A host can put the same filter on
its own handlers::

    LOGGING = {..., "filters": {"redact": {"()": "ai.redact.RedactingFilter"}}, ...}

What this cannot reach: the local variables of the traceback's frames, which Sentry sends when
``include_local_variables`` is on (its default); Sentry's own scrubber removes the usual names
(``api_key``, ``authorization``, ``password`` ...), see README "Logging".
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Iterable, Iterator

REDACTED = "[redacted]"

#: Vendor key shapes (OpenAI/Anthropic ``sk-...``, Google ``AIza...``), the gateway's own keys
#: (``aig_<prefix>_<secret>``) and JWTs.
_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-*]{4,}|AIza[A-Za-z0-9_\-]{4,}|aig_[A-Za-z0-9]{8}_[A-Za-z0-9_\-]{6,})"
    r"|\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
)
#: ``Authorization: Bearer x``, ``x-api-key=x``, ``"api_key": "x"``, ``?key=x`` ...: the name
#: stays, the value goes.
_NAMED = re.compile(
    r"(?i)(\b(?:proxy-)?authorization|\bx-(?:goog-)?api-key|\bapi[-_]?key|\b(?:access|refresh)_token"
    r"|\bpassword|\bsecret(?:_key)?|[?&]key)"
    r"(['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?[^\s'\",}&]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}")


def configured_secrets() -> list[str]:
    """The configured provider keys and metrics token (strings of 4+ characters), longest
    first."""
    from ai.conf import API_KEY_NAMES, ai_settings

    found = []
    for name in (*API_KEY_NAMES, "AI_METRICS_TOKEN"):
        try:
            value = getattr(ai_settings, name)
        except Exception:  # settings not configured (a script): nothing to redact
            continue
        if isinstance(value, str) and len(value) >= 4:
            found.append(value)
    try:  # the keys of OpenAI-compatible providers declared in settings or the environment
        from ai.services.compatible import declared

        found += [d.api_key for d in declared().values() if d.api_key and len(d.api_key) >= 4]
    except Exception:  # settings not configured (a script): nothing more to redact
        pass
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` without the configured keys (or ``secrets``) and anything key-shaped."""
    for secret in configured_secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    text = _NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SHAPES.sub(REDACTED, text)


def _chain(exc: BaseException, limit: int = 20) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the members of exception groups, once each."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < limit:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(getattr(current, "exceptions", None) or ())


def _redact_arg(arg: object, secrets: list[str]) -> object:
    if isinstance(arg, str):
        return redact(arg, secrets)
    text = repr(arg)
    clean = redact(text, secrets)
    return arg if clean == text else clean


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


def redact_exception(exc: BaseException) -> bool:
    """Redact, in place, the ``args`` and ``__notes__`` of ``exc`` and of every exception in its
    chain. True when every exception's text is clean afterwards."""
    secrets = configured_secrets()
    clean = True
    for current in _chain(exc):
        with contextlib.suppress(Exception):  # an exception type whose args cannot be set
            current.args = tuple(_redact_arg(arg, secrets) for arg in current.args)
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [redact(str(note), secrets) for note in notes]
        text = _safe_str(current)
        if redact(text, secrets) != text:
            clean = False
    return clean


#: The request log's message format (``ai.request_log``, one record per request), filled with
#: values of the gateway's own making only (the request id it generated, a status): a record
#: with this very object as its ``msg`` (identity: another ``"request %s %s"`` is not it) and no
#: exception has nothing to redact, so :class:`RedactingFilter` lets it pass unscanned.
REQUEST_MESSAGE = "request %s %s"


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments and exception (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg is REQUEST_MESSAGE and not record.exc_info:
            return True
        secrets = configured_secrets()
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        exc_info = record.exc_info
        if exc_info and exc_info[1] is not None and not redact_exception(exc_info[1]):
            text = redact("".join(traceback.format_exception(exc_info[1])), secrets)
            record.msg, record.args = f"{record.getMessage()}\n{text}", None
            record.exc_info, record.exc_text = None, None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True


#: Every logger the app logs on (tests/test_redact.py checks that this covers ai/'s sources).
APP_LOGGERS = (
    "ai.api",
    "ai.asgi",
    "ai.auth",
    "ai.compat",
    "ai.governance",
    "ai.providers.gemini",
    "ai.requests",
    "ai.router",
    "ai.usage",
)


def protect_app_loggers() -> None:
    """Put a :class:`RedactingFilter` on each of :data:`APP_LOGGERS` (once). Only the app's own
    loggers: the host's logging configuration is left as it is."""
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
