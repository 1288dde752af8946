"""Dependency checks for `GET /v1/health`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.http.schemas.common import Health
from chalicelib.infra import db, outage, redis_client, storage

log = logging.getLogger(__name__)


def _mysql() -> None:
    db.fetch_one("SELECT 1 AS ok")


def _redis() -> None:
    redis_client.client().ping()


CHECKS: dict[str, Callable[[], None]] = {"mysql": _mysql, "redis": _redis, "s3": storage.bucket_reachable}


def check() -> tuple[Health, bool]:
    """(report, all ok). Failures say only 'down': error details stay in the logs."""
    results = {}
    for name, probe in CHECKS.items():
        try:
            probe()
            results[name] = "ok"
            if name in outage.Store.__members__:
                outage.recovered(outage.Store(name))
        except Exception as exc:
            store = outage.store_of(exc)
            if store is not None:
                outage.report(store, exc, "health")  # once per outage, not once per probe
            else:
                log.warning("health check %s failed: %s", name, type(exc).__name__)
            if name == "mysql":
                db.close()
            results[name] = "down"
    healthy = all(v == "ok" for v in results.values())
    return Health(status="ok" if healthy else "degraded", checks=results), healthy
