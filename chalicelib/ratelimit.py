"""Rate limits in Redis (sliding window counters from the `limits` library), and a growing
delay for repeated failed logins of one account.

Limits fail open: when Redis is down the API keeps serving (and logs it) rather than locking
every user out; quotas, which cost money, are enforced in MySQL and don't depend on this.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from functools import lru_cache


from chalicelib import redis_client, redis_keys
from chalicelib.config import get_settings
from chalicelib.errors import RateLimited

log = logging.getLogger(__name__)
FAILURE_WINDOW_S = 15 * 60
MAX_LOGIN_DELAY_S = 15 * 60


@lru_cache(maxsize=1)
def _limiter():
    from limits.storage import RedisStorage
    from limits.strategies import SlidingWindowCounterRateLimiter

    # the one client's connection pool: the factory's timeouts
    storage = RedisStorage(get_settings().redis_url, key_prefix=redis_keys.RATE_LIMIT_PREFIX,
                           connection_pool=redis_client.client().connection_pool)
    return SlidingWindowCounterRateLimiter(storage)


@lru_cache(maxsize=16)
def _rule(text: str):
    from limits import parse

    return parse(text)


def hit(scope: str, identity: str, rule: str) -> None:
    """Count one request of `identity` in `scope`; 429 with Retry-After when over `rule`."""
    item = _rule(rule)
    try:
        limiter = _limiter()
        if limiter.hit(item, scope, identity):
            return
        reset_at = limiter.get_window_stats(item, scope, identity).reset_time
    except (redis_client.error(), OSError):
        log.warning("rate limiter unavailable; allowing the request", exc_info=True)
        return
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimited("Too many requests; slow down", details={"retry_after_s": retry_after},
                      headers={"Retry-After": str(retry_after)})


def _account(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def check_login_allowed(email: str) -> None:
    try:
        wait = redis_client.client().ttl(redis_keys.login_blocked(_account(email)))
    except redis_client.error():
        return
    if wait and wait > 0:
        raise RateLimited("Too many failed logins for this account; try again later",
                          code="login_throttled", details={"retry_after_s": wait},
                          headers={"Retry-After": str(wait)})


def login_failed(email: str) -> None:
    """After `login_failures_allowed` failures, each further one doubles the wait (1 s, 2 s, ...)."""
    account = _account(email)
    try:
        client = redis_client.client()
        pipe = client.pipeline()
        pipe.incr(redis_keys.login_failures(account))
        pipe.expire(redis_keys.login_failures(account), FAILURE_WINDOW_S)
        failures = pipe.execute()[0]
        over = failures - get_settings().login_failures_allowed
        if over > 0:
            client.set(redis_keys.login_blocked(account), 1, ex=min(2 ** (over - 1), MAX_LOGIN_DELAY_S))
    except redis_client.error():
        log.warning("could not record a failed login", exc_info=True)


def login_succeeded(email: str) -> None:
    try:
        redis_client.client().delete(redis_keys.login_failures(_account(email)))
    except redis_client.error():
        pass
