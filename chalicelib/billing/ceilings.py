"""The operator's money is safe: daily spend ceilings on the platform's provider accounts, for
the whole platform (PLATFORM_DAILY_CEILING_MICROS, per provider) and per user
(USER_DAILY_CEILING_MICROS). Counted in Redis per UTC day (both counters of a day share one
hash slot, so one MULTI updates them on a cluster too); a call that would pass a ceiling is not
made: the provider chain falls back (offline last), with a note, a log line and a metric.
Redis away: the ceiling cannot be read, and the call is refused (fail closed: money).
"""

from __future__ import annotations

import logging
from datetime import datetime

from chalicelib.core import observability
from chalicelib.core.ids import utcnow
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys

log = logging.getLogger(__name__)
KEEP_S = 3 * 24 * 3600


def _day(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y-%m-%d")


def refusal(provider: str, user_id: str, amount: int) -> str | None:
    """Why a platform call of up to `amount` may not be made now, or None when it may."""
    settings = get_settings()
    platform_cap = settings.platform_daily_ceiling_micros.get(provider, 0)
    user_cap = settings.user_daily_ceiling_micros
    if not platform_cap and not user_cap:
        return None
    day = _day()
    try:
        spent_platform, spent_user = redis_client.client().mget(
            redis_keys.platform_spend(day, provider), redis_keys.user_spend(day, user_id, provider)
        )
    except redis_client.error():
        return "the spend ceiling cannot be checked right now"
    if platform_cap and int(spent_platform or 0) + amount > platform_cap:
        _reached("platform", provider, user_id)
        return f"the platform's daily {provider} spend ceiling is reached"
    if user_cap and int(spent_user or 0) + amount > user_cap:
        _reached("user", provider, user_id)
        return f"your daily {provider} spend ceiling is reached"
    return None


def add(provider: str, user_id: str, amount: int) -> None:
    """Count a platform call's cost (after it returned). Best effort: Redis away loses only
    this count, and `refusal` fails closed meanwhile."""
    if amount <= 0:
        return
    day = _day()
    try:
        with redis_client.client().pipeline(transaction=True) as pipe:
            for key in (
                redis_keys.platform_spend(day, provider),
                redis_keys.user_spend(day, user_id, provider),
            ):
                pipe.incrby(key, amount)
                pipe.expire(key, KEEP_S)
            pipe.execute()
    except redis_client.error():
        log.warning("platform spend of %s micro-dollars on %s not counted: Redis away", amount, provider)
    observability.metric_platform_spend(provider, amount)


def _reached(scope: str, provider: str, user_id: str) -> None:
    log.warning("daily %s spend ceiling reached for %s", scope, provider, extra={"user_id": user_id})
    observability.metric_spend_ceiling(scope, provider)
