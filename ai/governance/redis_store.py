"""The counts in Redis, shared by every gateway process: one ``EVALSHA`` before the upstream call
(:data:`ai.governance.scripts.ADMIT`) and one after it (``SETTLE``).

The calls asked for in the same turn of the event loop go out together, as one pipeline (one
write, one read): under load one round trip serves many requests, and each call is still sent
after its request asked. A settlement runs to its end even when its request is cancelled (the
pipeline is its own task). After a Redis restart the scripts are loaded again (``NOSCRIPT``:
nothing ran) and the calls resent.

The client is redis-py's asyncio one, on the server of the cache's first ``LOCATION`` with its
``OPTIONS`` (as :mod:`ai.api.revocation` reads its markers: public settings only, no private
attribute of Django's cache), one per event loop. Keys get the cache's own prefix and version
(``make_key``), so they sit beside the cache's other entries and ``KEY_PREFIX`` separates
projects sharing a server.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from ai import redis_clients
from ai.governance.memory import ADMITTED, WINDOW_MS, Bucket, Budget, Verdict
from ai.governance.scripts import ADMIT, SEED, SETTLE
from ai.providers._loop import PerLoop

ADMIT_SHA = hashlib.sha1(ADMIT.encode()).hexdigest()
SETTLE_SHA = hashlib.sha1(SETTLE.encode()).hexdigest()


#: (sha, keys, args, the caller's future, what to do with a reply nobody waits for)
_Call = tuple[str, list[str], list[Any], asyncio.Future, Callable[[Any], None] | None]


class _Batcher:
    """The script calls of one event loop, sent a turn of the loop at a time."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pending: list[_Call] = []
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def call(
        self,
        sha: str,
        keys: list[str],
        args: list[Any],
        orphan: Callable[[Any], None] | None = None,
    ) -> Any:
        """The script's reply. A call whose caller is cancelled is still sent (a settlement
        must happen); ``orphan`` then gets its reply (an admission to give back)."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((sha, keys, args, future, orphan))
        if len(self.pending) == 1:  # the first call of this turn: flush once it ends
            self.spawn(self._flush())
        return await future

    async def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            replies = await self._run(batch)
        except BaseException as exc:
            for *_, future, _orphan in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for (*_, future, orphan), reply in zip(batch, replies, strict=True):
            if future.done():  # cancelled
                if orphan is not None and not isinstance(reply, Exception):
                    orphan(reply)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _run(self, batch: list[_Call]) -> list:
        import redis.exceptions

        replies = await self._pipeline(batch)
        missing = [
            i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)
        ]
        if missing:
            await self.client.script_load(ADMIT)
            await self.client.script_load(SETTLE)
            again = await self._pipeline([batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, batch: list[_Call]) -> list:
        import redis.exceptions

        if len(batch) == 1:  # a plain command costs less CPU than a pipeline of one
            sha, keys, args, _, _ = batch[0]
            try:
                return [await self.client.evalsha(sha, len(keys), *keys, *args)]
            except redis.exceptions.ResponseError as err:
                return [err]
        pipe = self.client.pipeline(transaction=False)
        for sha, keys, args, _, _ in batch:
            pipe.evalsha(sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)


class RedisStore:
    def __init__(self, backend: Any, alias: str) -> None:
        self.backend = backend
        self.alias = alias
        #: The server the counts are on (``ai.deferred``: a marker there is checked in the
        #: admission script).
        self.server = redis_clients.first_server(alias)
        self._clients: PerLoop[_Batcher] = PerLoop(self._connect)

    def _connect(self) -> _Batcher:
        return _Batcher(redis_clients.async_client(self.alias))

    def key(self, name: str) -> str:
        return self.backend.make_key(name)

    async def admit(
        self,
        buckets: Sequence[Bucket],
        budgets: Sequence[Budget],
        marker: tuple[str, Any] | None = None,
    ) -> Verdict:
        """Count a request (all or nothing). ``marker``, ``(full key, value)``: a revocation
        marker to check first, on this server (:attr:`server`); a different value answers
        ``STALE`` with nothing counted."""
        args: list[Any] = [len(buckets), WINDOW_MS]
        for b in buckets:
            args += [b.capacity, b.cost]
        for g in budgets:
            args += [g.limit, g.cost, g.ttl]
        keys = [self.key(b.key) for b in buckets] + [self.key(g.key) for g in budgets]
        argv = [" ".join(map(str, args))]
        if marker is not None:
            keys.append(marker[0])
            argv.append(str(marker[1]))
        batcher = self._clients.get()

        def orphan(reply: Any) -> None:
            # Its request was cancelled while Redis admitted it: give everything back.
            if Verdict.parse(reply, len(buckets)).status == ADMITTED:
                corrections = [(b.key, b.capacity, b.cost) for b in buckets]
                settlements = [(g.key, g.cost, 0, g.ttl) for g in budgets]
                batcher.spawn(self.settle(corrections, settlements))

        reply = await batcher.call(ADMIT_SHA, keys, argv, orphan)
        return Verdict.parse(reply, len(buckets))

    async def settle(
        self,
        corrections: Sequence[tuple[str, int, int]],
        settlements: Sequence[tuple[str, int, int, int]],
    ) -> None:
        args: list[Any] = [len(corrections), WINDOW_MS]
        for _key, capacity, refund in corrections:
            args += [capacity, refund]
        for _key, reserved, spent, ttl in settlements:
            args += [reserved, spent, ttl]
        keys = [self.key(c[0]) for c in corrections] + [self.key(s[0]) for s in settlements]
        await self._clients.get().call(SETTLE_SHA, keys, [" ".join(map(str, args))])

    def settle_soon(
        self,
        corrections: Sequence[tuple[str, int, int]],
        settlements: Sequence[tuple[str, int, int, int]],
        failed: Callable[[], None],
    ) -> None:
        """:meth:`settle` in the background: the response does not wait for the round trip
        (``failed`` is called if it fails). :meth:`drain` waits for it (shutdown, tests)."""

        async def settle() -> None:
            try:
                await self.settle(corrections, settlements)
            except Exception:
                failed()

        self._clients.get().spawn(settle())

    async def drain(self) -> None:
        """Wait for this loop's calls in flight (pipelines, give-backs of cancelled requests)."""
        batcher = self._clients.current()
        while batcher is not None and batcher.tasks:
            await asyncio.gather(*list(batcher.tasks), return_exceptions=True)

    async def seed(self, key: str, spent: int, ttl: int) -> None:
        """Raise a budget's spent count to ``spent`` (never lower it)."""
        await self._clients.get().client.eval(SEED, 1, self.key(key), spent, ttl)

    async def read_budget(self, key: str) -> tuple[int, int]:
        client = self._clients.get().client
        spent, reserved = await client.hmget(self.key(key), "s", "r")
        return int(spent or 0), int(reserved or 0)

    async def aclose(self) -> None:
        batcher = self._clients.pop()
        if batcher is not None:
            await batcher.client.aclose()
