"""Smaller per-connection buffers for held streams, when ``AI_SMALL_DEQUES`` asks for them.

A held stream keeps two connections open: the client's (uvicorn's protocol, its request cycle
with an ``asyncio.Event`` and the flow control's) and the upstream's (aiohttp's protocol and
its body reader). Six ``collections.deque`` objects live in them, each 760 bytes however empty
(its first block of 64 slots), and each holds zero, one or two items for the stream's whole
life: 4.6 KB of a held stream's ~34 KB. :func:`compact_server` and :func:`compact_upstream`
replace them, keeping their items, with :class:`SmallDeque`, a list with a deque's two ends
(56 bytes empty).

Private attributes of uvicorn, aiohttp and asyncio, so guarded: :data:`PROBLEM` is checked at
import (each attribute is assigned a deque where it is looked for, and each class's code calls
no method on it but those :class:`SmallDeque` has); when a check fails, or a server other than
uvicorn's httptools one (or a host's ASGI middleware wrapping ``send``) is in front, nothing is
swapped and a warning says so once. Off by default (the server's objects are the host's);
``tests/compat/test_small_deques.py`` fails when a check does.
"""

from __future__ import annotations

import re
from typing import Any

from ai._compat._checks import class_source, first_problem, report, run

#: The deque methods :class:`SmallDeque` has (a list's, plus both ends).
SUPPORTED = frozenset({"append", "appendleft", "pop", "popleft", "remove", "clear", "extend"})


class SmallDeque(list):
    """A list with a deque's two ends: for the few items a connection's queue holds at once
    (``popleft`` moves the rest, which a short list makes cheaper than a deque's block)."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


def uses_only_supported(cls: type, attr: str) -> str | None:
    """``None`` when ``cls``'s code assigns ``attr`` a deque and calls no method on it but
    :data:`SUPPORTED` ones; else what differs."""
    try:
        source = class_source(cls)
    except (OSError, TypeError):
        return f"{cls.__qualname__}'s source cannot be read"
    name = re.escape(attr)
    if not re.search(rf"self\.{name}(:[^=\n]*)?\s*=\s*(collections\.)?deque\(", source):
        return f"{cls.__qualname__}.{attr} is no longer a deque"
    called = set(re.findall(rf"self\.{name}\.(\w+)\(", source))
    if not called <= SUPPORTED:
        return f"{cls.__qualname__}.{attr} is used with {sorted(called - SUPPORTED)}"
    if re.search(rf"self\.{name}\.maxlen|self\.{name}\[[^\]]*:", source):
        return f"{cls.__qualname__}.{attr} is used as only a deque can be"
    return None


def check() -> str | None:
    import asyncio

    from aiohttp import client_proto, streams
    from uvicorn.protocols.http import flow_control, httptools_impl

    return first_problem(
        uses_only_supported(asyncio.Event, "_waiters"),
        uses_only_supported(streams.StreamReader, "_buffer"),
        _splits_problem(streams.StreamReader),
        uses_only_supported(streams.DataQueue, "_buffer"),
        uses_only_supported(httptools_impl.HttpToolsProtocol, "pipeline"),
        _assigned(httptools_impl.RequestResponseCycle, "message_event", "message_event"),
        _assigned(httptools_impl.RequestResponseCycle, "flow", "flow"),
        _assigned(httptools_impl.RequestResponseCycle, "on_response", "on_response"),
        None
        if "message_event=asyncio.Event()" in class_source(httptools_impl.HttpToolsProtocol)
        else "HttpToolsProtocol no longer gives each cycle an asyncio.Event",
        _assigned(flow_control.FlowControl, "_is_writable_event", "asyncio.Event()"),
        None if issubclass(client_proto.ResponseHandler, streams.DataQueue) else "ResponseHandler",
    )


def _splits_problem(reader: type) -> str | None:
    # Assigned a deque on the first HTTP chunk, not in __init__.
    source = class_source(reader)
    called = set(re.findall(r"self\._http_chunk_splits\.(\w+)\(", source)) | set(
        re.findall(r"chunk_splits\.(\w+)\(", source)
    )
    if "self._http_chunk_splits = collections.deque()" not in source:
        return "StreamReader._http_chunk_splits is no longer a deque"
    # compact_upstream may give it its (empty) list before the first chunk: only when None is
    # it made on the first chunk, so the list stays.
    if not re.search(
        r"if self\._http_chunk_splits is None:[^\n]*\n(?:[^\n]*\n){0,6}?\s*"
        r"self\._http_chunk_splits = collections\.deque\(\)",
        source,
    ):
        return "StreamReader no longer makes _http_chunk_splits only when it has none"
    if not called <= SUPPORTED:
        return f"StreamReader._http_chunk_splits is used with {sorted(called - SUPPORTED)}"
    return None


def _assigned(cls: type, attr: str, value: str) -> str | None:
    source = class_source(cls)
    if not re.search(rf"self\.{re.escape(attr)}(:[^=\n]*)?\s*=\s*{re.escape(value)}", source):
        return f"{cls.__qualname__}.__init__ no longer sets {attr} = {value}"
    return None


PROBLEM: str | None = None
OK = False
_checked = False


def _usable() -> bool:
    # Checked on first use, not at import: uvicorn may not be installed (a WSGI host), and
    # nothing is imported for a host that did not ask.
    global PROBLEM, OK, _checked
    if not _checked:
        _checked = True
        PROBLEM = run(check)
        OK = report("uvicorn / aiohttp deques", PROBLEM, "the servers' own deques")
    return OK


def enabled() -> bool:
    from ai.conf import ai_settings

    return bool(ai_settings.AI_SMALL_DEQUES) and _usable()


def _swap(obj: Any, attr: str) -> None:
    current = getattr(obj, attr, None)
    if current is not None and type(current) is not SmallDeque:
        setattr(obj, attr, SmallDeque(current))


def compact_server(send: Any) -> None:
    """Swap the deques of the uvicorn connection that ``send`` (a request cycle's own
    ``send``) writes to; nothing for any other ``send``."""
    cycle = getattr(send, "__self__", None)
    if cycle is None or type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
        return
    if type(cycle).__name__ != "RequestResponseCycle" or not enabled():
        return
    _swap(cycle.message_event, "_waiters")
    _swap(cycle.flow._is_writable_event, "_waiters")
    protocol = getattr(cycle.on_response, "__self__", None)
    if protocol is not None and type(protocol).__name__ == "HttpToolsProtocol":
        _swap(protocol, "pipeline")


def compact_upstream(content: Any, *, chunked: bool = False) -> None:
    """Swap the deques of an aiohttp body reader (``response.content``) and its protocol. A
    ``chunked`` body whose first chunk has not come yet gets its chunk list now (aiohttp makes
    the deque on the first chunk, only when there is none: most real answers' first chunk
    comes after the headers this is called on)."""
    if not enabled():
        return
    _swap(content, "_buffer")
    if content._http_chunk_splits is None and chunked and not content.total_bytes:
        content._http_chunk_splits = SmallDeque()
    else:
        _swap(content, "_http_chunk_splits")
    _swap(content._protocol, "_buffer")
