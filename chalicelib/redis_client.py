"""The one synchronous Redis client per process (a thread-safe connection pool)."""
from __future__ import annotations

import threading

import redis

from chalicelib.config import get_settings

_lock = threading.Lock()
_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            # socket_timeout above the longest blocking read (events long-poll: 20 s)
            _client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True,
                                           socket_timeout=30, socket_connect_timeout=2,
                                           health_check_interval=30)
        return _client


def reset() -> None:
    """Drop the client (tests that point the settings at another server)."""
    global _client
    with _lock:
        _client = None
