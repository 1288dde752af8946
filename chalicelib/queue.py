"""The job queue: BullMQ on Redis. Job data carries only our job id; the spec lives in MySQL.

BullMQ for Python is asyncio-only while the API is synchronous, so each process keeps ONE event
loop in a daemon thread for all its BullMQ calls (never `asyncio.run` per request: that would
rebuild the Redis connection and reload the Lua scripts every time).
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Awaitable, TypeVar

from chalicelib.config import get_settings

T = TypeVar("T")
JOB_NAME = "render"

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_queues: dict[str, Any] = {}


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="bullmq-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    """Run a coroutine on the process's BullMQ loop and wait for its result."""
    future: Future = asyncio.run_coroutine_threadsafe(coro, _background_loop())  # type: ignore[arg-type]
    return future.result(timeout)


def redis_options() -> dict[str, Any]:
    """Short timeouts and few retries: an API request must fail fast when Redis is down."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return {"decode_responses": True, "socket_timeout": 5, "socket_connect_timeout": 2,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2)}


def deliveries_queue_name() -> str:
    """Outgoing webhook deliveries have a queue of their own: a slow receiver never delays a render."""
    return f"{get_settings().queue_name}-webhooks"


async def get_queue(name: str | None = None) -> Any:
    """The jobs queue, or another by name; one Queue object per name per process."""
    name = name or get_settings().queue_name
    if name not in _queues:
        import redis.asyncio
        from bullmq import Queue

        settings = get_settings()
        conn = redis.asyncio.from_url(settings.redis_url, **redis_options())
        _queues[name] = Queue(name, {"connection": conn, "prefix": settings.queue_prefix})
    return _queues[name]


def reset() -> None:
    """Close and forget the Queue objects (tests that point the settings at another queue)."""
    for queue in list(_queues.values()):
        run(queue.close())
    _queues.clear()


def job_options(job_id: str, priority: int = 0) -> dict[str, Any]:
    settings = get_settings()
    return {
        "jobId": job_id,  # BullMQ ignores a second add of a live id: re-enqueueing is idempotent
        "attempts": settings.job_attempts,
        "backoff": {"type": "jitter"},  # computed by chalicelib.worker.backoff
        "priority": priority,
        "removeOnComplete": True,
        # The failed set is the dead-letter queue; MySQL keeps the full history anyway.
        "removeOnFail": {"count": 10000},
    }


def enqueue(job_id: str, priority: int = 0) -> None:
    add(get_settings().queue_name, JOB_NAME, {"job_id": job_id}, job_options(job_id, priority))


async def _add(queue_name: str, name: str, data: dict, options: dict) -> None:
    queue = await get_queue(queue_name)
    await queue.add(name, data, options)


def add(queue_name: str, name: str, data: dict, options: dict) -> None:
    """A work item onto the queue `queue_name` (jobs, webhook deliveries)."""
    run(_add(queue_name, name, data, options))


async def _discard(job_id: str) -> None:
    queue = await get_queue()
    await queue.remove(job_id)  # no-op for a job a worker holds (locked) or one already gone


def discard(job_id: str) -> None:
    """Drop a job id from the queue (waiting, delayed or failed), so it can be added again."""
    run(_discard(job_id))

