"""The one Redis connection factory: every user of Redis (progress streams, cancel flags, rate
limits, the breaker, BullMQ's queues and workers) gets its connection here, with one set of
timeouts, so "Redis is down" looks the same everywhere: a connect fails within
CONNECT_TIMEOUT_S and nobody waits on a dead socket longer than SOCKET_TIMEOUT_S.

redis is imported on first use (~40 ms of the API's cold start otherwise).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from chalicelib.core.settings import get_settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio

CONNECT_TIMEOUT_S = 2
# Above the longest blocking read we issue: the events long-poll (20 s) and BullMQ's blocking
# wait for the next job (drainDelay, 5 s).
SOCKET_TIMEOUT_S = 30
HEALTH_CHECK_INTERVAL_S = 30

_lock = threading.Lock()
_client: redis.Redis | None = None


def timeouts() -> dict[str, Any]:
    """The keyword arguments every redis-py client here is built with."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def client() -> redis.Redis:
    """The process's synchronous client (a thread-safe connection pool)."""
    global _client
    with _lock:
        if _client is None:
            import redis

            _client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True, **timeouts())
        return _client


def async_client() -> redis.asyncio.Redis:
    """A client for an asyncio loop (BullMQ's Queue in the API and functions). Few, short
    retries: an API request must fail fast when Redis is down, not ride out a restart. One
    connection, not a pool: the loop runs one command at a time anyway, and taking a connection
    from a pool and giving it back on every command cost a third of an enqueue."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return redis.asyncio.Redis.from_url(
        get_settings().redis_url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        single_connection_client=True,
        **timeouts(),
    )


def connection_options() -> dict[str, Any]:
    """Connection options as a dict, for BullMQ's Worker: it opens two connections of its own
    (one blocks waiting for jobs) and retries them through a Redis restart."""
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


def error() -> type[Exception]:
    """redis.RedisError, for `except` clauses (evaluated only when something was raised)."""
    import redis

    return redis.RedisError


def reset() -> None:
    """Drop the client (tests that point the settings at another server)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
