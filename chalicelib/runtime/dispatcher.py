"""Scales workers to the queue: desired = ceil(depth / WORKER_CONCURRENCY), at most MAX_WORKERS.

Depth counts what needs a worker now or soon: waiting, prioritized, active, and delayed jobs due
within DUE_SOON (retries back off a few seconds). Workers only ever get *started* here; they stop
themselves after WORKER_IDLE_EXIT_S without work (chalicelib/runtime/worker.py), so the fleet scales to
zero without the dispatcher ever having to pick a victim.

DISPATCH_MODE=ecs starts Fargate tasks (RunTask) and counts this dispatcher's running tasks;
DISPATCH_MODE=local (the local stage's default) starts worker processes through the launcher and
counts the workers connected to the queue.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from chalicelib.core.settings import get_settings
from chalicelib.infra import queue

log = logging.getLogger(__name__)

STARTED_BY = "media-dispatcher"  # ECS startedBy tag: the tasks this dispatcher owns
DUE_SOON_MS = 60_000
RUN_TASK_BATCH = 10  # ECS RunTask starts at most 10 tasks per call


def queue_depth() -> int:
    return queue.depth(DUE_SOON_MS)


def desired_workers(depth: int, concurrency: int, cap: int) -> int:
    return min(cap, math.ceil(depth / concurrency))


# ---- ECS ----------------------------------------------------------------------------------------
def _ecs() -> Any:
    from chalicelib.infra import aws

    return aws.client("ecs")


def running_tasks() -> int:
    """Tasks this dispatcher started that are pending or running (desired status RUNNING)."""
    pages = (
        _ecs().get_paginator("list_tasks").paginate(cluster=get_settings().ecs_cluster, startedBy=STARTED_BY)
    )  # startedBy must be the only filter
    return sum(len(page["taskArns"]) for page in pages)


def start_tasks(count: int) -> list[str]:
    settings = get_settings()
    started: list[str] = []
    while len(started) < count:
        reply = _ecs().run_task(
            cluster=settings.ecs_cluster,
            taskDefinition=settings.worker_task_definition,
            launchType="FARGATE",
            count=min(RUN_TASK_BATCH, count - len(started)),
            startedBy=STARTED_BY,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": settings.worker_subnet_ids,
                    "securityGroups": [settings.worker_security_group],
                    "assignPublicIp": "DISABLED",
                }
            },
        )
        if reply.get("failures"):  # e.g. capacity: the next run tries again
            log.warning("RunTask failures: %s", reply["failures"])
        if not reply["tasks"]:
            break
        started += [task["taskArn"] for task in reply["tasks"]]
    return started


# ---- local processes ----------------------------------------------------------------------------
def running_local_workers() -> int:
    """Workers connected to this queue, wherever they were started."""
    return queue.connected_workers()


def start_local_workers(count: int) -> list[int]:
    from chalicelib.runtime import launcher

    return [launcher.start_worker(f"dispatched-{time.time_ns()}").pid for _ in range(count)]


# ---- the pass -----------------------------------------------------------------------------------
PASS_LOCK_MS = 55_000  # above the function's timeout (50 s): a killed pass's lock lapses by itself
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def dispatch() -> dict[str, Any]:
    """One pass at a time (a Redis lock, not reserved concurrency, which small accounts cannot
    grant): two overlapping passes, the minute's and a submission's, would both start the same
    missing workers. A pass that finds the lock held does nothing; the holder counts the queue."""
    import secrets

    from chalicelib.infra import redis_client, redis_keys

    redis, key, token = (
        redis_client.client(),
        redis_keys.dispatch_lock(get_settings().queue_name),
        secrets.token_hex(8),
    )
    if not redis.set(key, token, nx=True, px=PASS_LOCK_MS):
        log.info("dispatch: another pass is running")
        return {
            "mode": get_settings().dispatch_mode,
            "skipped": "another dispatch pass is running",
            "started": 0,
        }
    try:
        return _dispatch()
    finally:
        redis.eval(_RELEASE, 1, key, token)


def _dispatch() -> dict[str, Any]:
    """One pass: start the missing workers. Returns what it saw and did."""
    settings = get_settings()
    depth = queue_depth()
    desired = desired_workers(depth, settings.worker_concurrency, settings.max_workers)
    local = settings.dispatch_mode == "local"
    running = running_local_workers() if local else running_tasks()
    missing = max(0, desired - running)
    started = (start_local_workers(missing) if local else start_tasks(missing)) if missing else []
    result = {
        "mode": settings.dispatch_mode,
        "depth": depth,
        "desired": desired,
        "running": running,
        "started": len(started),
        "ids": started,
    }
    log.info("dispatch: %s", {k: v for k, v in result.items() if k != "ids"})
    return result


def _first_nudge_in_window(window_ms: int) -> bool:
    """True for one caller per `window_ms` (Redis SET NX PX): a burst of 1000 submissions makes
    one dispatch, not 1000 passes queued behind the dispatcher's pass lock."""
    if window_ms <= 0:
        return True
    from chalicelib.infra import redis_client, redis_keys

    return bool(
        redis_client.client().set(
            redis_keys.dispatch_nudge(get_settings().queue_name), "1", nx=True, px=window_ms
        )
    )


def nudge() -> None:
    """After a submission: dispatch now instead of within the minute, if DISPATCH_ON_SUBMIT.

    With DISPATCHER_FUNCTION (in AWS) it invokes the dispatcher Lambda asynchronously: the API
    request doesn't wait on ECS, and the API role needs no ECS rights. Debounced: at most one
    dispatch per NUDGE_DEBOUNCE_MS (docs/capacity.md, section 3). Never fails the caller:
    the scheduled dispatcher catches up within the minute anyway.
    """
    settings = get_settings()
    if not settings.dispatch_on_submit:
        return
    try:
        if not _first_nudge_in_window(settings.nudge_debounce_ms):
            return  # a burst's first submission already asked; the run counts the whole queue
        if settings.dispatcher_function:
            from chalicelib.infra import aws

            aws.client("lambda").invoke(
                FunctionName=settings.dispatcher_function, InvocationType="Event", Payload=b"{}"
            )
        else:
            dispatch()
    except Exception:
        log.warning("dispatch after submit failed; the scheduled run will catch up", exc_info=True)
