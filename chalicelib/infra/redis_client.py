"""The one Redis connection factory: every user of Redis (progress streams, cancel flags, rate
limits, the breaker, BullMQ's queues and workers) gets its connection here, with one set of
timeouts, so "Redis is down" looks the same everywhere: a connect fails within
CONNECT_TIMEOUT_S and nobody waits on a dead socket longer than SOCKET_TIMEOUT_S.

Standalone or cluster mode, by one setting: `REDIS_CLUSTER=1` (ElastiCache Serverless is always
cluster mode) makes every client here a RedisCluster that starts from the node REDIS_URL names
(`rediss://` for TLS) and routes each command to its slot. A command whose keys hash to different
slots then fails with CROSSSLOT, so keys used together in one command, MULTI or Lua script share
a hash tag (chalicelib.infra.redis_keys; BullMQ's prefix, settings.queue_prefix). The suite runs
the Redis-backed tests against a local cluster too (tests/conftest.py, `redis_cluster`).

redis is imported on first use (~40 ms of the API's cold start otherwise).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlparse

from chalicelib.core.settings import get_settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio

CONNECT_TIMEOUT_S = 2
# Commands answer in milliseconds: a frozen Redis must fail a request in seconds, within API
# Gateway's 29 s (a 503 of ours, not its 504), retries included.
COMMAND_TIMEOUT_S = 4
COMMAND_RETRIES = 1
# Blocking reads wait longer: above the longest we issue, the events long-poll (20 s) and
# BullMQ's blocking wait for the next job (drainDelay, 5 s).
SOCKET_TIMEOUT_S = 30
HEALTH_CHECK_INTERVAL_S = 30

_lock = threading.Lock()
_clients: dict[bool, redis.Redis | redis.RedisCluster] = {}  # blocking? -> the process's client


def timeouts(blocking: bool = True) -> dict[str, Any]:
    """The keyword arguments every redis-py client here is built with (`blocking`: one that
    issues blocking reads, whose socket waits as long as they may)."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_S if blocking else min(COMMAND_TIMEOUT_S, SOCKET_TIMEOUT_S),
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def cluster_mode() -> bool:
    return get_settings().redis_cluster


def client(blocking: bool = False) -> redis.Redis:
    """The process's synchronous client (a thread-safe connection pool; in cluster mode a pool per
    node): for commands, or (`blocking`) for blocking reads such as XREAD BLOCK. Typed as
    redis.Redis: RedisCluster answers the same commands (one slot per command)."""
    with _lock:
        if blocking not in _clients:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry

            url = get_settings().redis_url
            options = {
                "decode_responses": True,
                "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), COMMAND_RETRIES),
                **timeouts(blocking),
            }
            maker = redis.RedisCluster if cluster_mode() else redis.Redis
            _clients[blocking] = maker.from_url(url, **options)
        return cast("redis.Redis", _clients[blocking])


def async_client() -> redis.asyncio.Redis:
    """A client for an asyncio loop (BullMQ's Queue in the API and functions). Few, short
    retries: an API request must fail fast when Redis is down, not ride out a restart. One
    connection, not a pool: the loop runs one command at a time anyway, and taking a connection
    from a pool and giving it back on every command cost a third of an enqueue."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    if cluster_mode():
        return cast(
            "redis.asyncio.Redis",
            redis.asyncio.RedisCluster.from_url(
                get_settings().redis_url,
                decode_responses=True,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
                **timeouts(),
            ),
        )
    return redis.asyncio.Redis.from_url(
        get_settings().redis_url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        single_connection_client=True,
        **timeouts(),
    )


def worker_connection() -> dict[str, Any] | redis.asyncio.RedisCluster:
    """The connection for BullMQ's Worker. Standalone: options as a dict, from which it opens two
    connections of its own (one blocks waiting for jobs) and retries them through a Redis restart.
    Cluster: one RedisCluster client (BullMQ takes a client, not options, for a cluster) with the
    same patient retries; its per-node pools give the blocking wait a connection of its own."""
    if cluster_mode():
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff

        return redis.asyncio.RedisCluster.from_url(
            get_settings().redis_url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=20, base=1), 20),
            **timeouts(),
        )
    url = urlparse(get_settings().redis_url)
    return {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 6379,
        "db": int(url.path.lstrip("/") or 0),
        "username": unquote(url.username) if url.username else None,
        "password": unquote(url.password) if url.password else None,
        "ssl": url.scheme == "rediss",
        **timeouts(),
    }


def rate_limit_storage(key_prefix: str) -> Any:
    """The `limits` library's storage (chalicelib.infra.ratelimit). Standalone: on the process's
    client's pool. Cluster: limits' own cluster storage (it takes no client), from the same URL,
    credentials and timeouts; its sliding-window keys carry their own hash tag."""
    from limits.storage import RedisClusterStorage, RedisStorage

    settings = get_settings()
    if not cluster_mode():
        pool = client().connection_pool
        return RedisStorage(settings.redis_url, key_prefix=key_prefix, connection_pool=pool)
    url = urlparse(settings.redis_url)
    options: dict[str, Any] = {
        "ssl": url.scheme == "rediss",
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
    }
    if url.username:
        options["username"] = unquote(url.username)
    if url.password:
        options["password"] = unquote(url.password)
    node = f"{url.hostname or '127.0.0.1'}:{url.port or 6379}"
    return RedisClusterStorage(f"redis+cluster://{node}", key_prefix=key_prefix, **options)


def error(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """What a Redis failure raises (and `also`), for `except` clauses (evaluated only when something
    was raised): redis.RedisError, and RedisClusterException (a cluster client that cannot reach
    its nodes)."""
    import redis
    from redis.exceptions import RedisClusterException

    return (redis.RedisError, RedisClusterException, *also)


def reset() -> None:
    """Drop the clients (tests that point the settings at another server)."""
    with _lock:
        for found in _clients.values():
            found.close()
        _clients.clear()
