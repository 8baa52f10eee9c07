"""``ai._compat.small_deques``: the guard, the list that stands in for a deque, and, through
the real server and the fake upstream, the swap itself on a held stream."""

from __future__ import annotations

import asyncio
import collections
import gc

import pytest

from ai._compat import small_deques
from ai._compat.small_deques import SmallDeque, uses_only_supported


def test_the_internals_it_swaps_are_as_it_expects():
    """Fails when uvicorn, aiohttp or asyncio changes one of the six deques: then nothing is
    swapped (and a warning says so) until this module is updated."""
    assert small_deques.run(small_deques.check) is None


class Rotating:
    def __init__(self) -> None:
        self.items = collections.deque()

    def turn(self) -> None:
        self.items.rotate(1)


class Listed:
    def __init__(self) -> None:
        self.items = []


def test_a_class_using_a_deque_in_another_way_fails_the_check():
    assert uses_only_supported(SmallDequeUser, "items") is None
    assert "rotate" in (uses_only_supported(Rotating, "items") or "")
    assert "no longer a deque" in (uses_only_supported(Listed, "items") or "")


class SmallDequeUser:
    def __init__(self) -> None:
        self.items = collections.deque()

    def use(self) -> None:
        self.items.appendleft(self.items.popleft())


def test_small_deque_has_both_ends():
    q = SmallDeque([2])
    q.append(3)
    q.appendleft(1)
    assert q == [1, 2, 3] and q.popleft() == 1 and q.pop() == 3 and len(q) == 1
    q.remove(2)
    assert not q


async def test_an_event_with_a_small_deque_still_wakes_its_waiters():
    event = asyncio.Event()
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    event._waiters = SmallDeque(event._waiters)  # as compact_server swaps it, a waiter in it
    event.set()
    assert await asyncio.wait_for(waiter, 1)
    assert event._waiters == []


class _EagerSplits:
    """Makes its chunk list on every chunk, whether or not it has one."""

    def __init__(self) -> None:
        self._http_chunk_splits = None

    def begin_http_chunk_receiving(self) -> None:
        self._http_chunk_splits = collections.deque()


def test_the_check_fails_when_the_chunk_list_would_be_replaced():
    assert small_deques._splits_problem(_EagerSplits) == (
        "StreamReader no longer makes _http_chunk_splits only when it has none"
    )


async def test_a_chunked_body_gets_its_chunk_list_before_its_first_chunk(settings):
    # A real vendor sends the headers, then thinks: the first chunk comes after the swap.
    from aiohttp import StreamReader
    from aiohttp.client_proto import ResponseHandler

    settings.AI_SMALL_DEQUES = True
    loop = asyncio.get_running_loop()
    protocol = ResponseHandler(loop)
    reader = StreamReader(protocol, 2**16, loop=loop)
    small_deques.compact_upstream(reader, chunked=True)
    assert type(reader._http_chunk_splits) is SmallDeque
    reader.begin_http_chunk_receiving()
    reader.feed_data(b"data: 1\n\n")
    reader.end_http_chunk_receiving()
    assert type(reader._http_chunk_splits) is SmallDeque  # aiohttp kept it
    assert await reader.read(100) == b"data: 1\n\n"
    # A body that is not chunked keeps aiohttp's None.
    plain = StreamReader(protocol, 2**16, loop=loop)
    small_deques.compact_upstream(plain)
    assert plain._http_chunk_splits is None


@pytest.fixture(params=[True, False], ids=["on", "off"])
def live(request, settings, transactional_db):
    from tests.api.live import LiveGateway

    settings.AI_API_MIDDLEWARE = []
    settings.AI_SMALL_DEQUES = request.param
    server = LiveGateway().start()
    yield request.param, server
    server.stop()


async def test_a_held_stream_swaps_its_connections_deques(live, token, upstream_settings):
    import httpx2
    from aiohttp.streams import StreamReader
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from tests.api.conftest import CHAT
    from tests.api.sse_client import parse_sse

    on, server = live
    body = {"prompt": "hi [[fake:chunks=4 chunk_delay=0.3]]", "provider": "openai", "stream": True}
    # Body readers of earlier tests may still be open in memory: this stream's is a new one
    # (they are held here, so that none of their ids goes to a new object).
    held = [o for o in gc.get_objects() if type(o) is StreamReader]
    earlier = {id(o) for o in held}
    async with (
        httpx2.AsyncClient(base_url=server.url, timeout=10) as http,
        http.stream("POST", CHAT, json=body, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        chunks = r.aiter_bytes()
        first = await anext(chunks)
        await asyncio.sleep(0.05)
        alive = gc.get_objects()
        # The stream's request cycle (this server's port), and the upstream body being read
        # (chunked, on an open connection): other tests' may still be in memory.
        [cycle] = [
            o
            for o in alive
            if type(o) is RequestResponseCycle
            and not o.response_complete
            and o.scope.get("server", (None, None))[1] == server.port
        ]
        [reader] = [
            o
            for o in alive
            if type(o) is StreamReader
            and id(o) not in earlier
            and o._http_chunk_splits is not None
            and not o.is_eof()
            and getattr(_protocol(o), "transport", None) is not None
        ]
        del alive, held
        rest = b"".join([c async for c in chunks])
    assert parse_sse(first + rest)[-1].data == "[DONE]"
    kinds = {
        type(cycle.message_event._waiters),
        type(cycle.flow._is_writable_event._waiters),
        type(reader._buffer),
        type(reader._http_chunk_splits),
        type(_protocol(reader)._buffer),
    }
    assert kinds == ({SmallDeque} if on else {collections.deque})


def _protocol(reader):
    """A body reader's protocol (``ai._compat.aiohttp_body`` may have it behind a stand-in)."""
    protocol = reader._protocol
    return getattr(protocol, "protocol", protocol)
