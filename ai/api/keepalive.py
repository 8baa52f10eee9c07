"""SSE keep-alive: a comment frame when a stream has been quiet for a while, so proxies and load
balancers that cut idle connections (nginx's ``proxy_read_timeout``, 60 s by default; cloud
load balancers, often 60 s) do not end a long stream whose model is thinking.

One task per stream relays the frames; the response waits on it and, when nothing came for
``AI_SSE_KEEPALIVE_SECONDS``, sends ``: keep-alive`` (a comment: every SSE parser, the official
SDKs' included, ignores it). One timer per stream checks for quiet; nothing is scheduled per
frame, only a future handed from the relay to the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

#: An SSE comment line: ignored by every client.
KEEPALIVE_FRAME = b": keep-alive\n\n"
#: Frames the relay may read ahead of a slow client before it waits for it.
_READ_AHEAD = 16


class _Pump:
    __slots__ = ("done", "error", "frames", "interval", "last", "loop", "space", "timer", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        # A list, not a deque (a deque's first block is 760 bytes per open stream); it holds
        # a frame or two.
        self.frames: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.space: asyncio.Future[None] | None = None
        self.done = False
        self.error: BaseException | None = None
        self.last = loop.time()
        self.timer: asyncio.TimerHandle | None = loop.call_at(self.last + interval, self.check)

    def check(self) -> None:
        """The timer: a keep-alive frame if the response waited ``interval`` for one."""
        now = self.loop.time()
        quiet = now - self.last
        if quiet >= self.interval and self.waiter is not None:
            self.frames.append(KEEPALIVE_FRAME)
            self.wake()
            quiet = 0.0
        self.timer = self.loop.call_at(now + self.interval - quiet, self.check)

    def stop(self) -> None:
        timer, self.timer = self.timer, None  # the handle refers back to us: break the cycle
        if timer is not None:
            timer.cancel()

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self, frames: AsyncIterator[bytes]) -> None:
        try:
            async for frame in frames:
                self.frames.append(frame)
                self.wake()
                if len(self.frames) >= _READ_AHEAD:
                    self.space = self.loop.create_future()
                    await self.space
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the response, which raises it
            self.error = exc
        finally:
            self.done = True
            self.wake()


async def with_keepalive(frames: AsyncIterator[bytes], interval: float) -> AsyncIterator[bytes]:
    """``frames``, with :data:`KEEPALIVE_FRAME` whenever none came for ``interval`` seconds.
    Closing this generator (the client went away) cancels the relay and waits for it, so the
    relay's own clean-up (closing the upstream, recording usage) has run when it returns."""
    loop = asyncio.get_running_loop()
    pump = _Pump(loop, interval)
    task = loop.create_task(pump.run(frames))
    try:
        while True:
            if pump.frames:
                frame = pump.frames.pop(0)
                space, pump.space = pump.space, None
                if space is not None and not space.done():
                    space.set_result(None)
                pump.last = loop.time()
                yield frame
                continue
            if pump.done:
                if pump.error is not None:
                    raise pump.error
                return
            pump.waiter = loop.create_future()
            await pump.waiter
    finally:
        pump.stop()
        if not task.done():
            task.cancel()
        try:
            await task
        except BaseException:  # its error, if any, was raised above
            pass
        finally:
            await _aclose(frames)


async def _aclose(frames: AsyncIterator[bytes]) -> None:
    aclose = getattr(frames, "aclose", None)
    if aclose is not None:
        await aclose()
