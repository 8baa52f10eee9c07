"""SSE keep-alive: a comment frame when a stream has been quiet for a while, so proxies and load
balancers that cut idle connections (nginx's ``proxy_read_timeout``, 60 s by default; cloud
load balancers, often 60 s) do not end a long stream whose model is thinking.

Two ways, the same frames on the wire (``: keep-alive``, a comment: every SSE parser, the
official SDKs' included, ignores it, after ``AI_SSE_KEEPALIVE_SECONDS`` without a frame):

* :func:`relay`, when the response is written by a caller that hands over its ``write`` (the
  gateway's lean ASGI handler): the frames are written in the caller's task as they come; one
  timer per stream checks for quiet and writes the comment from a short task of its own. Nothing
  is scheduled per frame.
* :func:`with_keepalive`, when the response is iterated (Django's own handler, WSGI): one task
  per stream relays the frames and the response waits on it, with a future handed over per frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

#: An SSE comment line: ignored by every client.
KEEPALIVE_FRAME = b": keep-alive\n\n"
logger = logging.getLogger("ai.api")

#: Frames the relay may read ahead of a slow client before it waits for it.
_READ_AHEAD = 16


def _next_check(now: float, quiet: float, interval: float) -> float:
    """When to look again: when the stream will have been quiet for ``interval``, or, when it
    already has (a keep-alive just went out, or none could: the response is busy writing to a
    slow client), a whole interval from now. Never in the past: that would spin the loop."""
    return now + (interval - quiet if quiet < interval else interval)


def _cancel(timer: asyncio.TimerHandle | None) -> None:
    """Cancel a stream's timer; its holder then drops it (the handle refers back to the holder:
    the cycle is broken)."""
    if timer is not None:
        timer.cancel()


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
        self.timer = self.loop.call_at(_next_check(now, quiet, self.interval), self.check)

    def stop(self) -> None:
        self.timer = _cancel(self.timer)

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


class _Beat:
    """The timer of :func:`relay`: writes a keep-alive when nothing was written for
    ``interval`` and no write is under way."""

    __slots__ = ("interval", "last", "loop", "task", "timer", "write", "writing")

    def __init__(self, interval: float, write: Callable[[bytes], Awaitable[None]]) -> None:
        self.loop = asyncio.get_running_loop()
        self.interval = interval
        self.write = write
        self.writing = False
        self.task: asyncio.Task | None = None
        self.last = self.loop.time()
        self.timer: asyncio.TimerHandle | None = self.loop.call_at(self.last + interval, self.check)

    def check(self) -> None:
        now = self.loop.time()
        quiet = now - self.last
        if quiet >= self.interval and not self.writing:
            self.writing = True
            self.task = self.loop.create_task(self.beat())
        self.timer = self.loop.call_at(_next_check(now, quiet, self.interval), self.check)

    async def beat(self) -> None:
        try:
            await self.write(KEEPALIVE_FRAME)
        except Exception:  # best effort: the next frame's write meets the same failure
            logger.debug("a keep-alive frame could not be written", exc_info=True)
        finally:
            self.last = self.loop.time()
            self.writing = False

    async def settle(self) -> None:
        """Wait for a keep-alive being written (before a frame, or the end of the body)."""
        task, self.task = self.task, None
        if task is not None:
            await task

    def stop(self) -> None:
        self.timer = _cancel(self.timer)

    def cancel(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()


async def relay(
    frames: AsyncIterator[bytes], write: Callable[[bytes], Awaitable[None]], interval: float
) -> None:
    """Write each of ``frames`` with ``await write(frame)`` as it comes, in this task, and
    :data:`KEEPALIVE_FRAME` whenever none was written for ``interval`` seconds (0: never).
    ``write`` is never called twice at once, and no keep-alive is under way when this returns.
    ``frames`` is closed when this returns or raises (its clean-up has run by then)."""
    try:
        if not interval:
            async for frame in frames:
                await write(frame)
            return
        beat = _Beat(interval, write)
        try:
            async for frame in frames:
                if beat.task is not None:
                    await beat.settle()
                beat.writing = True
                await write(frame)
                beat.writing = False
                beat.last = beat.loop.time()
            beat.stop()
            await beat.settle()  # the end of the body goes after it
        finally:
            beat.stop()
            beat.cancel()
    finally:
        await _aclose(frames)
