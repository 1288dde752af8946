"""A circuit breaker per provider endpoint, in Redis so every worker shares it.

`failures` transient failures (timeouts, 429/5xx after retries) within `window` seconds open the
circuit: the endpoint is skipped by all workers for `cooldown` seconds, then tried again. Keyed by
provider, base_url and, for calls with a user's own key (BYOK), that key's owner: one user's
broken server or exhausted quota (429s) never pushes other users to the offline fallback.
"""

from __future__ import annotations

import hashlib

from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys


def endpoint_id(base_url: str, owner: str | None = None) -> str:
    """The breaker's identity of an endpoint; `owner` is the credential's owner for BYOK calls."""
    scope = f"{owner}\x00" if owner else ""
    return hashlib.sha256((scope + base_url.rstrip("/")).encode()).hexdigest()[:16]


def is_open(provider: str, endpoint: str) -> bool:
    return bool(redis_client.client().exists(redis_keys.provider_open(provider, endpoint)))


def record_failure(provider: str, endpoint: str) -> bool:
    """Count a transient failure; True when this one opened the circuit."""
    settings = get_settings()
    redis = redis_client.client()
    counter = redis_keys.provider_failures(provider, endpoint)
    with redis.pipeline(transaction=True) as pipe:  # MULTI: the count and its window's expiry land together
        pipe.incr(counter)
        pipe.expire(counter, settings.provider_breaker_window_s, nx=True)
        count = pipe.execute()[0]
    if count < settings.provider_breaker_failures:
        return False
    redis.set(redis_keys.provider_open(provider, endpoint), 1, ex=settings.provider_breaker_cooldown_s)
    redis.delete(counter)
    return True


def record_success(provider: str, endpoint: str) -> None:
    redis_client.client().delete(redis_keys.provider_failures(provider, endpoint))
