"""redis-py asyncio clients on the server of a Django Redis cache, for the counts and markers that
need more than Django's cache API (Lua scripts, batched reads).

Built from the cache's public settings only: the first ``LOCATION`` (where Django's
``RedisCache`` writes) and its ``OPTIONS`` (those redis-py's pool takes), never from a private
attribute of Django's backend.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

#: ``OPTIONS`` of Django's RedisCache that are Django's own, not the connection pool's.
_DJANGO_ONLY = ("pool_class", "parser_class", "serializer")


def first_server(alias: str) -> str:
    """The Redis server (the first ``LOCATION``) the cache ``alias`` writes to."""
    location = settings.CACHES[alias]["LOCATION"]
    servers = location if isinstance(location, list | tuple) else location.split(",")
    return servers[0].strip()


def async_client(alias: str) -> Any:
    """A new ``redis.asyncio.Redis`` on the server the cache ``alias`` writes to."""
    import redis.asyncio

    options = {
        name: value
        for name, value in (settings.CACHES[alias].get("OPTIONS") or {}).items()
        if name not in _DJANGO_ONLY
    }
    pool = redis.asyncio.ConnectionPool.from_url(first_server(alias), **options)
    return redis.asyncio.Redis(connection_pool=pool)


def is_django_redis(backend: Any) -> bool:
    """Whether ``backend`` is Django's own ``RedisCache`` (whose settings these clients read),
    with redis-py's asyncio client installed."""
    try:
        import redis.asyncio  # noqa: F401
        from django.core.cache.backends.redis import RedisCache
    except ImportError:
        return False
    return type(backend) is RedisCache
