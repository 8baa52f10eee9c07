"""The revocation marker the current request's authentication deferred, until it is confirmed.

An authenticator that finds the user in its process cache may skip reading the user's marker
(``ai.api.revocation.defer``): the marker is then compared where the request first talks to
Redis anyway, in the admission script (``ai.governance``), or read by :func:`confirm` before
anything leaves the gateway. This module is the state between the two, per request (a context
variable), with nothing of the HTTP layer in it, so the gateway's services can confirm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any


class StaleCredentials(Exception):
    """A deferred marker changed: the request must be authenticated again (``ai.api.base``
    does it). Raised before any upstream call and before any response."""


class Deferral:
    """A request's permission to defer, and what was deferred (``name`` None: nothing yet)."""

    __slots__ = ("confirmed", "marker", "name", "read", "server")

    def __init__(self) -> None:
        #: The marker's full key in the cache, and the marker the authenticator trusted.
        self.name: str | None = None
        self.marker: Any = None
        #: The Redis server (first ``LOCATION``) holding the marker.
        self.server = ""
        #: Reads the current marker (None when the cache cannot say).
        self.read: Callable[[], Awaitable[Any]] | None = None
        #: Run once the marker is confirmed (what must not happen for stale credentials, such
        #: as recording a key's last use).
        self.confirmed: Callable[[], None] | None = None


_current: ContextVar[Deferral | None] = ContextVar("ai_deferred_marker", default=None)


def allow(allowed: bool) -> None:
    """Start a request: whether its view confirms what its authentication defers."""
    _current.set(Deferral() if allowed else None)


def current() -> Deferral | None:
    """The request's deferral, if it may defer (its ``name`` says whether something was)."""
    return _current.get()


def pending() -> Deferral | None:
    """The request's deferred marker, if one waits for confirmation."""
    deferral = _current.get()
    return deferral if deferral is not None and deferral.name is not None else None


def confirmed() -> None:
    """The deferred marker was found unchanged (by the admission script, or :func:`confirm`)."""
    deferral = _current.get()
    if deferral is not None:
        then = deferral.confirmed
        deferral.name = deferral.marker = deferral.read = deferral.confirmed = None
        if then is not None:
            then()


def when_confirmed(action: Callable[[], None]) -> None:
    """Run ``action`` once the request's deferred marker is confirmed, or now when nothing
    is deferred."""
    deferral = pending()
    if deferral is None:
        action()
    else:
        deferral.confirmed = action


def stale() -> StaleCredentials:
    """The deferred marker changed: the error to raise; nothing more is deferred."""
    _current.set(None)
    return StaleCredentials()


async def confirm() -> None:
    """Read the deferred marker, if one waits: raises :class:`StaleCredentials` when it
    changed (or the cache cannot say)."""
    deferral = pending()
    if deferral is None:
        return
    assert deferral.read is not None
    if await deferral.read() != deferral.marker:
        raise stale()
    confirmed()
