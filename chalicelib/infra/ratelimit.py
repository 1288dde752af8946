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

from chalicelib.core.errors import RateLimited
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys

log = logging.getLogger(__name__)
FAILURE_WINDOW_S = 15 * 60
MAX_LOGIN_DELAY_S = 15 * 60


def _limiter():
    # on the one client (the factory's timeouts); a new client after redis_client.reset()
    # (another Redis) gets a new limiter, never one on a stale pool
    return _limiter_on(redis_client.client())


@lru_cache(maxsize=1)
def _limiter_on(_client):
    from limits.strategies import SlidingWindowCounterRateLimiter

    return SlidingWindowCounterRateLimiter(redis_client.rate_limit_storage(redis_keys.RATE_LIMIT_PREFIX))


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
    except redis_client.error(OSError):
        log.warning("rate limiter unavailable; allowing the request", exc_info=True)
        return
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimited(
        "Too many requests; slow down",
        details={"retry_after_s": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def credential_write(user_id: str) -> None:
    """One write of a credential (API key, provider key, webhook endpoint): one budget per user,
    since each write costs a KMS call or a hash and they are what an attacker would churn."""
    hit("credential_writes", user_id, get_settings().rate_limit_credential_writes)


def address_key(email: str) -> str:
    """A rate-limit identity for an email address that does not store the address itself."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _account_and_source(email: str, source: str | None) -> str:
    """Failed logins count per account AND source address together: an attacker failing on
    purpose locks only their own address out of that account, never its owner elsewhere."""
    return hashlib.sha256(f"{email}\0{source or 'unknown'}".encode()).hexdigest()[:32]


def check_login_allowed(email: str, source: str | None) -> None:
    try:
        wait = redis_client.client().ttl(redis_keys.login_blocked(_account_and_source(email, source)))
    except redis_client.error():
        return
    if wait and wait > 0:
        raise RateLimited(
            "Too many failed logins for this account from here; try again later",
            code="login_throttled",
            details={"retry_after_s": wait},
            headers={"Retry-After": str(wait)},
        )


def login_failed(email: str, source: str | None) -> None:
    """After `login_failures_allowed` failures, each further one doubles the wait (1 s, 2 s, ...)."""
    account = _account_and_source(email, source)
    try:
        client = redis_client.client()
        pipe = client.pipeline(transaction=True)  # one key (and slot): MULTI in cluster mode too
        pipe.incr(redis_keys.login_failures(account))
        pipe.expire(redis_keys.login_failures(account), FAILURE_WINDOW_S)
        failures = pipe.execute()[0]
        over = failures - get_settings().login_failures_allowed
        if over > 0:
            client.set(redis_keys.login_blocked(account), 1, ex=min(2 ** (over - 1), MAX_LOGIN_DELAY_S))
    except redis_client.error():
        log.warning("could not record a failed login", exc_info=True)


def login_succeeded(email: str, source: str | None) -> None:
    try:
        redis_client.client().delete(redis_keys.login_failures(_account_and_source(email, source)))
    except redis_client.error():
        pass
