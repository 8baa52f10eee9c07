"""SDK clients kept per event loop.

openai and anthropic clients hold a connection pool bound to the loop that first used it; reused
from another loop they fail ("Event loop is closed"). Django runs async code on one loop under
ASGI, but tests, management commands and ``async_to_sync`` make new loops, so each loop gets its
own client. Entries go away with their loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    def current(self) -> T | None:
        """The current loop's item if one was made, without making one."""
        try:
            return self._items.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    def pop(self) -> T | None:
        """Forget the current loop's item and return it (None if it had none), e.g. to close it."""
        try:
            return self._items.pop(asyncio.get_running_loop(), None)
        except RuntimeError:
            return None

    def clear(self) -> None:
        self._items.clear()


class PerLoopClient(Generic[T]):
    """Mixin for a provider that keeps its SDK client per event loop in ``self._clients``: the
    ``client`` of the running loop, and ``aclose()`` closing it (the client's ``close()``)."""

    _clients: PerLoop[T]

    @property
    def client(self) -> T:
        """This event loop's SDK client (built on first use)."""
        return self._clients.get()

    async def aclose(self) -> None:
        client: Any = self._clients.pop()
        if client is not None:
            await client.close()
