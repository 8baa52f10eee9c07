"""The counts in Redis, shared by every gateway process: one ``EVALSHA`` before the upstream call
(:data:`ai.governance.scripts.ADMIT`) and one after it (``SETTLE``).

The client is redis-py's asyncio one, on the server of the cache's first ``LOCATION`` with its
``OPTIONS`` (as :mod:`ai.api.revocation` reads its markers: public settings only, no private
attribute of Django's cache), one per event loop. Keys get the cache's own prefix and version
(``make_key``), so they sit beside the cache's other entries and ``KEY_PREFIX`` separates
projects sharing a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from ai.governance.memory import WINDOW_MS, Bucket, Budget, Verdict
from ai.governance.scripts import ADMIT, SETTLE
from ai.providers._loop import PerLoop


class RedisStore:
    def __init__(self, backend: Any, alias: str) -> None:
        self.backend = backend
        self.alias = alias
        self._clients: PerLoop[tuple[Any, Any, Any]] = PerLoop(self._connect)

    def _connect(self) -> tuple[Any, Any, Any]:
        import redis.asyncio

        config = settings.CACHES[self.alias]
        location = config["LOCATION"]
        servers = location if isinstance(location, list | tuple) else location.split(",")
        options = {
            name: value
            for name, value in (config.get("OPTIONS") or {}).items()
            if name not in ("pool_class", "parser_class", "serializer")
        }
        pool = redis.asyncio.ConnectionPool.from_url(servers[0].strip(), **options)
        client = redis.asyncio.Redis(connection_pool=pool)
        # Script objects send EVALSHA, and the script itself only once per server (NOSCRIPT).
        return client, client.register_script(ADMIT), client.register_script(SETTLE)

    def key(self, name: str) -> str:
        return self.backend.make_key(name)

    async def admit(self, buckets: Sequence[Bucket], budgets: Sequence[Budget]) -> Verdict:
        _, admit, _ = self._clients.get()
        args: list[Any] = [len(buckets), WINDOW_MS]
        for b in buckets:
            args += [b.capacity, b.cost]
        for g in budgets:
            args += [g.limit, g.cost, g.ttl]
        keys = [self.key(b.key) for b in buckets] + [self.key(g.key) for g in budgets]
        reply = await admit(keys=keys, args=args)
        return Verdict.parse(reply, len(buckets))

    async def settle(
        self,
        corrections: Sequence[tuple[str, int, int]],
        settlements: Sequence[tuple[str, int, int, int]],
    ) -> None:
        _, _, settle = self._clients.get()
        args: list[Any] = [len(corrections), WINDOW_MS]
        for _key, capacity, refund in corrections:
            args += [capacity, refund]
        for _key, reserved, spent, ttl in settlements:
            args += [reserved, spent, ttl]
        keys = [self.key(c[0]) for c in corrections] + [self.key(s[0]) for s in settlements]
        await settle(keys=keys, args=args)

    async def read_budget(self, key: str) -> tuple[int, int]:
        client, _, _ = self._clients.get()
        spent, reserved = await client.hmget(self.key(key), "s", "r")
        return int(spent or 0), int(reserved or 0)

    async def aclose(self) -> None:
        entry = self._clients.pop()
        if entry is not None:
            await entry[0].aclose()


def is_django_redis(backend: Any) -> bool:
    try:
        import redis.asyncio  # noqa: F401
        from django.core.cache.backends.redis import RedisCache
    except ImportError:
        return False
    return type(backend) is RedisCache
