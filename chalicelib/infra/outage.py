"""Which errors are store outages (MySQL or Redis away, stalled, failing over) and which are bugs.

An outage is weather: the API answers 503 with Retry-After, a worker pauses the job and goes on
from its checkpoint, the reaper does not blame the worker. A bug (bad SQL, a wrong Redis type,
a constraint) is raised as it is. Every caller asks here, so "the store is down" means one thing.

Also the one place that logs an outage: a warning when a store goes away and an info line when
it is back, not a stack per request.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from enum import Enum

from chalicelib.core.errors import Unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # what a 503 tells clients: about one reconnect backoff of ours
QUIET_S = 60.0  # a store failing again within this long after its last failure is the same outage


class Store(str, Enum):
    """A store the system depends on."""

    mysql = "mysql"  #: the source of truth (MariaDB locally, Aurora in AWS)
    redis = "redis"  #: queue, progress streams, locks, rate limits


# MySQL client and server error numbers that mean "the server is away or cannot take this now".
MYSQL_OUTAGE_CODES = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1205,  # lock wait timeout (contention; db retries the transaction first)
        1213,  # deadlock (the same)
        1290,  # --read-only: a failed-over endpoint still pointing at the old writer
        1792,  # cannot execute statement in a READ ONLY transaction
        1836,  # running in read-only mode
        1927,  # connection was killed (MariaDB)
        2002,  # can't connect through the socket
        2003,  # can't connect (refused, timed out)
        2006,  # server has gone away
        2013,  # lost connection during a query
        2014,  # commands out of sync (a connection broken mid-reply)
        2055,  # lost connection at the socket level
    }
)
# Retried by the database helper as a whole transaction before they become outages.
MYSQL_CONFLICT_CODES = frozenset({1205, 1213})
# The connection is unusable after these: drop it, the next use reconnects.
MYSQL_CONNECTION_LOST = frozenset({2002, 2003, 2006, 2013, 2014, 2055, 1927, 1053})
# A server that refuses writes: after an Aurora failover an old connection still reaches the
# demoted writer (now a reader). Dropped too: the next connect resolves the endpoint again.
MYSQL_READ_ONLY = frozenset({1290, 1792, 1836})


def _mysql_outage(exc: BaseException) -> bool:
    pymysql = sys.modules.get("pymysql")
    if pymysql is None:  # never imported: nothing raised can be one of its errors
        return False
    if isinstance(exc, pymysql.err.InterfaceError):  # a closed connection used again
        return True
    return isinstance(exc, pymysql.err.MySQLError) and mysql_code(exc) in MYSQL_OUTAGE_CODES


# A cluster client (ElastiCache Serverless) that cannot reach or map the cluster raises a bare
# RedisClusterException; the same type also reports our own mistakes (CROSSSLOT in a MULTI, a db
# number), which stay bugs. These are the messages that mean "the cluster is away".
REDIS_CLUSTER_AWAY = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
)


def _redis_outage(exc: BaseException) -> bool:
    redis = sys.modules.get("redis")
    if redis is None:
        return False
    errors = redis.exceptions
    outage = (
        errors.ConnectionError,  # refused, reset, a full pool, BusyLoadingError (a replica loading)
        errors.TimeoutError,  # a stalled server
        errors.ReadOnlyError,  # a replica answering a write during a failover
        errors.ClusterError,  # CLUSTERDOWN, MASTERDOWN, redirections that never settle
        errors.TryAgainError,  # a slot migrating or failing over
        errors.SlotNotCoveredError,  # the cluster lost a slot's master
    )
    if isinstance(exc, (errors.AuthenticationError, errors.AuthorizationError)):
        return False  # ConnectionErrors in redis-py, but a wrong password is configuration
    if isinstance(exc, outage):
        return True
    if type(exc) is errors.RedisClusterException:
        return str(exc).startswith(REDIS_CLUSTER_AWAY)
    # Raised from Lua (BullMQ's scripts) or by older servers, these arrive as plain replies.
    return isinstance(exc, errors.ResponseError) and str(exc).startswith(
        ("LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN")
    )


def mysql_code(exc: BaseException) -> int | None:
    """The error number of a pymysql error (its first argument), else None."""
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def store_of(exc: BaseException | None) -> Store | None:
    """The store whose outage `exc` is (or was caused by: the chain is followed), else None."""
    seen = 0
    while exc is not None and seen < 10:
        if _mysql_outage(exc):
            return Store.mysql
        if _redis_outage(exc):
            return Store.redis
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def is_outage(exc: BaseException) -> bool:
    return store_of(exc) is not None


# ---- one warning per outage ---------------------------------------------------------------
_lock = threading.Lock()
_down_since: dict[Store, float] = {}
_last_failure: dict[Store, float] = {}


def report(store: Store, exc: BaseException, where: str = "") -> None:
    """Note a failure of `store`: the first of an outage is a warning, the rest are quiet."""
    now = time.monotonic()
    with _lock:
        new = store not in _down_since or now - _last_failure.get(store, 0.0) > QUIET_S
        if new:
            _down_since[store] = now
        _last_failure[store] = now
    if new:
        log.warning(
            "%s unavailable%s: %s: %s (quiet until it is back)",
            store.value,
            f" ({where})" if where else "",
            type(exc).__name__,
            exc,
        )
    else:
        log.debug("%s still unavailable: %s", store.value, type(exc).__name__)


def recovered(store: Store) -> None:
    """`store` answered again: one info line closes the outage (cheap when there was none)."""
    if store not in _down_since:
        return
    with _lock:
        since = _down_since.pop(store, None)
    if since is not None:
        log.info("%s is back after %.1f s", store.value, time.monotonic() - since)


def is_down(store: Store) -> bool:
    with _lock:
        return store in _down_since and time.monotonic() - _last_failure[store] <= QUIET_S


def unavailable(store: Store) -> Unavailable:
    """The API's answer while `store` is away: 503 `unavailable`, with Retry-After."""
    what = "database" if store is Store.mysql else "queue and cache"
    return Unavailable(
        f"The {what} is briefly unavailable; retry in a few seconds",
        details={"dependency": store.value, "retry_after_s": RETRY_AFTER_S},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
