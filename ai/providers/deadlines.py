"""The gateway's own upstream deadlines, the same for every vendor and transport:

* ``AI_CONNECT_TIMEOUT``: opening a connection (the SDK clients' ``connect`` timeout);
* ``AI_FIRST_BYTE_TIMEOUT``: from the call to the whole answer (non-streaming) or to a
  stream's first delta;
* ``AI_IDLE_TIMEOUT``: between two deltas of a stream.

The last two default to ``AI_REQUEST_TIMEOUT``. They are enforced here rather than by the HTTP
clients, whose read timeouts cannot tell a model thinking before its first token from one
stalled mid-answer, and which arm a timer per read. A stream has one :class:`IdleWatch`: one
timer, re-armed only when it fires, and two attribute writes per delta.
"""

from __future__ import annotations

import asyncio

from ai.conf import ai_settings


def _seconds(name: str) -> float:
    value = getattr(ai_settings, name)
    return float(ai_settings.AI_REQUEST_TIMEOUT if value is None else value)


def connect_timeout() -> float:
    return float(ai_settings.AI_CONNECT_TIMEOUT)


def first_byte_timeout() -> float:
    return _seconds("AI_FIRST_BYTE_TIMEOUT")


def idle_timeout() -> float:
    return _seconds("AI_IDLE_TIMEOUT")


class IdleWatch:
    """Cancels the task waiting on a stream when it has waited ``seconds`` for a delta; the
    stream turns that cancellation into an :class:`ai.exceptions.UpstreamTimeoutError`
    (:meth:`expired`). Call :meth:`waiting` before each wait and :meth:`idle` after it."""

    __slots__ = ("fired", "loop", "seconds", "since", "task", "timer")

    def __init__(self, seconds: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.seconds = seconds
        self.since = self.loop.time()
        self.task: asyncio.Task | None = None
        self.fired = False
        self.timer: asyncio.TimerHandle | None = self.loop.call_at(
            self.since + seconds, self._check
        )

    def waiting(self) -> None:
        # With the loop given: asyncio.get_running_loop() makes a getpid() system call on
        # Python 3.11 (its fork check), and this runs once per delta.
        self.task = asyncio.current_task(self.loop)
        self.since = self.loop.time()

    def idle(self) -> None:
        self.task = None

    def _check(self) -> None:
        now = self.loop.time()
        task = self.task
        if task is not None and now - self.since >= self.seconds:
            self.fired, self.timer = True, None
            task.cancel()
            return
        due = self.since + self.seconds if task is not None else now + self.seconds
        self.timer = self.loop.call_at(due, self._check)

    def expired(self) -> bool:
        """After a CancelledError out of a wait: whether it was this watch's (then the task's
        cancellation is taken back) rather than the client's or the server's."""
        if not self.fired:
            return False
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0

    def stop(self) -> None:
        timer, self.timer = self.timer, None  # the handle refers back to us: break the cycle
        if timer is not None:
            timer.cancel()
