"""How many events long-polls one user may hold open at once.

Each open poll is a member of a per-user sorted set scored by when it lapses, so a poll whose
process died (no `finally`) stops counting on its own after LONG_POLL_SLOT_TTL_S; the set
itself expires too. Over the bound the API answers 429 with Retry-After.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.core.errors import RateLimited
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys

LONG_POLL_MAX_WAIT_S = 20  # the events endpoint's longest `wait`
LONG_POLL_SLOT_TTL_S = 60  # well past the longest wait plus a request's overhead


def block_ms(wait_s: float) -> int | None:
    """Milliseconds to give XREAD BLOCK, or None for no blocking read. Never 0: for Redis,
    BLOCK 0 means wait forever."""
    ms = int(wait_s * 1000)
    return ms if ms >= 1 else None


@contextmanager
def slot(user_id: str) -> Iterator[None]:
    """Hold one of the user's long-poll slots for the duration of the block."""
    limit = get_settings().long_polls_per_user
    redis, key, member = redis_client.client(), redis_keys.long_polls(user_id), secrets.token_hex(8)
    now = time.time()
    with redis.pipeline(transaction=True) as pipe:  # MULTI: prune, take, count and expire together
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {member: now + LONG_POLL_SLOT_TTL_S})
        pipe.zcard(key)
        pipe.expire(key, LONG_POLL_SLOT_TTL_S)
        held = pipe.execute()[2]
    if held > limit:
        redis.zrem(key, member)
        # The oldest open poll began at (its score - TTL) and ends within the longest wait.
        oldest = redis.zrange(key, 0, 0, withscores=True)
        began = float(oldest[0][1]) - LONG_POLL_SLOT_TTL_S if oldest else now
        retry_after = max(1, min(LONG_POLL_MAX_WAIT_S, math.ceil(began + LONG_POLL_MAX_WAIT_S - now)))
        raise RateLimited(
            f"At most {limit} event long-polls may be open at once per user",
            code="too_many_long_polls",
            details={"retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    try:
        yield
    finally:
        redis.zrem(key, member)
