"""The ledger's batched writer: one background thread per process drains an in-memory queue.

Why a thread and not a task per event loop: the request path must only enqueue, on whichever
loop (or none: management commands, WSGI) it runs, and events must survive the loop that
produced them (tests, ``async_to_sync`` and server reloads close loops; a task dies with its
loop and takes its queue along). One writer thread batches across all loops, owns one database
connection, and is told to drain at process exit.

* :meth:`UsageWriter.submit` is a lock-free ``SimpleQueue.put``: a few microseconds, never
  blocks, never raises (see ``bench/usage_writer.py`` for measurements).
* The thread writes a batch when it holds ``AI_USAGE_BATCH_SIZE`` events or
  ``AI_USAGE_FLUSH_INTERVAL_MS`` (1 s) after the batch's first event, whichever comes first:
  one round trip per batch (``ai.usage.recorder.insert_rows``). A batch has a fixed cost (~0.7
  ms of CPU) that slows the requests in flight on a one-core worker, so fewer, larger batches:
  200 ms -> 1 s took ~0.5 ms off the everything-on benchmark's added p99. Between the first
  event and the deadline it sleeps, woken early only by a full batch, a flush or a stop:
  waking on every event cost a thread switch and a GIL hand-off per request (gateway
  in-process at c=50: 558 -> 472 µs of CPU per request without them). When idle it releases
  its connection per the host's ``CONN_MAX_AGE``.
* :func:`flush_usage` waits until every event queued before the call is written (tests,
  shutdown). At exit, an ``atexit`` hook drains the queue synchronously and logs how many
  events were lost, if any.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import queue
import threading
import time
from typing import Any

from ai.conf import ai_settings

logger = logging.getLogger("ai.usage")

#: Events held in memory at most (the database is down for long); beyond it events are dropped
#: and counted, so a dead database cannot exhaust the process's memory.
MAX_QUEUED = 100_000
#: How long the exit hook waits for the queue to drain, in seconds.
EXIT_FLUSH_TIMEOUT_S = 10.0


class _Flush:
    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[None] = concurrent.futures.Future()


_STOP = object()


class UsageWriter:
    """Owns the queue and the writer thread. Use the module's :data:`writer`."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: Set to end the writer's wait before the batch deadline (full batch, flush, stop).
        self._wake = threading.Event()
        self._batch_size = 500  # the last AI_USAGE_BATCH_SIZE the thread read
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._pid = os.getpid()
        self._stopping = False
        self.written = 0
        self.lost = 0
        self.dropped = 0
        self._last_drop_log = 0.0

    # --- the request path ---------------------------------------------------------------------

    def submit(self, event: Any) -> None:
        """Queue ``event`` for writing. Never blocks and never raises."""
        try:
            if self._queue.qsize() >= MAX_QUEUED or self._stopping:
                self._drop(event)
                return
            self._queue.put(event)
            if self._queue.qsize() >= self._batch_size:
                self._wake.set()
            thread = self._thread
            if thread is None or not thread.is_alive():
                self._start()
        except Exception:
            logger.exception("usage ledger: could not queue usage event %s", event)

    def _drop(self, event: Any) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            logger.error(
                "usage ledger: DROPPED usage event %s (%d dropped so far): the queue is full "
                "(%d events; is the database down?) or the process is exiting",
                getattr(event, "request_id", event), self.dropped, self._queue.qsize(),
            )  # fmt: skip

    # --- flushing -----------------------------------------------------------------------------

    def flush_future(self) -> concurrent.futures.Future[None]:
        """A future resolved once every event queued before this call has been handled."""
        marker = _Flush()
        thread = self._thread
        if (thread is None or not thread.is_alive()) and self._queue.empty():
            marker.future.set_result(None)
            return marker.future
        self._queue.put(marker)
        self._wake.set()
        if thread is None or not thread.is_alive():
            self._start()
        return marker.future

    def pending(self) -> int:
        return self._queue.qsize()

    # --- the thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="ai-usage-writer", daemon=True)
            self._thread.start()

    def after_fork(self) -> None:
        """In a forked child: it inherits the queue's contents (its parent writes those) and no
        thread. Registered with ``os.register_at_fork``."""
        self._queue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._thread = None
        self._start_lock = threading.Lock()
        self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            batch, waiters, stop = self._collect()
            try:
                if batch:
                    self._write(batch)
                if stop or self._queue.empty():
                    # Idle: give the connection back per CONN_MAX_AGE (before waking flushers,
                    # so a flushed writer holds no connection a test database teardown trips on).
                    self._release_connection()
            finally:
                for future in waiters:
                    if not future.done():
                        future.set_result(None)
            if stop:
                return

    def _collect(self) -> tuple[list[Any], list[concurrent.futures.Future[None]], bool]:
        """Block for the next event, then gather a batch: up to the batch size, the flush
        interval after the first event, or a flush/stop marker, whichever comes first."""
        batch: list[Any] = []
        waiters: list[concurrent.futures.Future[None]] = []
        size, interval = _limits()
        self._batch_size = size
        item = self._queue.get()
        # A wake-up left from the last batch (its flush marker was drained without waiting)
        # must not end this one early; whatever set it is already in the queue.
        self._wake.clear()
        deadline = time.monotonic() + interval
        while True:
            if item is _STOP:
                return batch, waiters, True
            if isinstance(item, _Flush):
                waiters.append(item.future)
                return batch, waiters, False
            batch.append(item)
            if len(batch) >= size:
                return batch, waiters, False
            try:
                item = self._queue.get_nowait()
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return batch, waiters, False
            # Sleep until the deadline unless a full batch, a flush or a stop wakes us.
            self._wake.wait(remaining)
            self._wake.clear()
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, waiters, False

    def _write(self, batch: list[Any]) -> None:
        from ai.usage.recorder import write_events

        try:
            result = write_events(batch)
        except Exception:  # write_events never raises; this is the last line of defence
            logger.exception("usage ledger: LOST %d usage events (writer failure)", len(batch))
            self.lost += len(batch)
            return
        self.written += result.written
        self.lost += result.lost

    @staticmethod
    def _release_connection() -> None:
        try:
            from django.db import close_old_connections

            close_old_connections()
        except Exception:
            logger.debug("usage ledger: releasing the connection failed", exc_info=True)

    # --- exit -----------------------------------------------------------------------------------

    def shutdown(self, timeout: float = EXIT_FLUSH_TIMEOUT_S) -> int:
        """Drain the queue and stop the thread (process exit); return how many events were lost.
        Events submitted afterwards are dropped and counted."""
        if self._pid != os.getpid():
            return 0
        self._stopping = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            self._wake.set()
            thread.join(timeout)
            if thread.is_alive():
                left = self._queue.qsize()
                logger.error(
                    "usage ledger: LOST about %d usage events at exit: the writer did not "
                    "finish within %.0fs (database hanging?)",
                    left, timeout,
                )  # fmt: skip
                return left
        leftovers = []
        for item in _drain(self._queue):
            if isinstance(item, _Flush):
                item.future.set_result(None)
            elif item is not _STOP:
                leftovers.append(item)
        lost = 0
        if leftovers:  # submitted while the thread was stopping: write them here
            from ai.usage.recorder import write_events

            result = write_events(leftovers)
            self.written += result.written
            lost = result.lost
        self.lost += lost
        if lost or self.dropped:
            logger.error(
                "usage ledger: at exit %d usage events were lost and %d dropped in this process",
                self.lost, self.dropped,
            )  # fmt: skip
        return lost


def _limits() -> tuple[int, float]:
    """(batch size, flush interval in seconds) from the settings; the defaults if malformed."""
    try:
        return (
            max(1, int(ai_settings.AI_USAGE_BATCH_SIZE)),
            max(0.0, float(ai_settings.AI_USAGE_FLUSH_INTERVAL_MS) / 1000),
        )
    except (TypeError, ValueError):
        logger.error("usage ledger: AI_USAGE_BATCH_SIZE / _FLUSH_INTERVAL_MS are not numbers")
        return 500, 0.2


def _drain(q: queue.SimpleQueue[Any]) -> list[Any]:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


writer = UsageWriter()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=writer.after_fork)


def _at_exit() -> None:
    thread = writer._thread
    if thread is not None and thread.is_alive():
        writer.shutdown()


atexit.register(_at_exit)


async def flush_usage(timeout: float | None = 30.0) -> None:
    """Wait (without blocking the loop) until every event recorded before the call is written."""
    future = writer.flush_future()
    await asyncio.wait_for(asyncio.wrap_future(future), timeout)


def flush_usage_sync(timeout: float | None = 30.0) -> None:
    """:func:`flush_usage` for synchronous code (commands, sync tests)."""
    writer.flush_future().result(timeout)
