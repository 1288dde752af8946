"""The one synchronous Redis client per process (a thread-safe connection pool)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from chalicelib.config import get_settings

if TYPE_CHECKING:
    import redis

# redis is imported on first use (~40 ms of the API's cold start otherwise).

_lock = threading.Lock()
_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            import redis


            # socket_timeout above the longest blocking read (events long-poll: 20 s)
            _client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True,
                                           socket_timeout=30, socket_connect_timeout=2,
                                           health_check_interval=30)
        return _client


def error() -> type[Exception]:
    """redis.RedisError, for `except` clauses (evaluated only when something was raised)."""
    import redis

    return redis.RedisError


def reset() -> None:
    """Drop the client (tests that point the settings at another server)."""
    global _client
    with _lock:
        _client = None
