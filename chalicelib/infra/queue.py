"""The job queue: BullMQ on Redis, and the only module that knows BullMQ (its classes, key
layout and score encoding). Job data carries only our job id; the spec lives in MySQL.

Everything else asks here: add or drop a job, a job's state, the depth that needs workers, the
workers connected, the delivery queue of outgoing webhooks, and the consumers a worker runs.

BullMQ for Python is asyncio-only while the API is synchronous. Adding a job (`enqueue`,
`enqueue_delivery`) is BullMQ's own `Queue.add` with its Lua scripts run on the process's
synchronous Redis client: the add never suspends, so it completes in the caller's thread in one
round trip (see `_adder`). Everything else keeps ONE event loop per process in a daemon thread for
its BullMQ calls (never `asyncio.run` per request: that would rebuild the Redis connection and
reload the Lua scripts every time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client

if TYPE_CHECKING:
    import asyncio

# asyncio (~20 ms) and bullmq load on first use: most API requests never touch the queue.
T = TypeVar("T")


class QueueState(str, Enum):
    """Where BullMQ holds a job."""

    waiting = "waiting"  # ready for a worker
    prioritized = "prioritized"  # ready, with a priority
    active = "active"  # a worker holds its lock
    delayed = "delayed"  # waiting for its backoff (or a busy user's slot) to pass
    waiting_children = "waiting-children"
    completed = "completed"  # done (we remove completed jobs, so rarely seen)
    failed = "failed"  # gave up: the dead-letter set
    unknown = "unknown"  # the queue does not hold it


# BullMQ Worker events that mean the worker is busy (see chalicelib.runtime.worker.exit_when_idle).
ACTIVITY_EVENTS = ("active", "completed", "failed")
JOB_NAME = "render"
DELIVERY_JOB = "deliver"
DELIVERY_ATTEMPTS = 8  # with the jittered backoff: about 4 minutes of trying
# What needs a worker now: waiting, prioritized (waiting with a priority) and active jobs.
DEPTH_STATES = (QueueState.waiting.value, QueueState.prioritized.value, QueueState.active.value)
MAX_PRIORITY = 2_097_152  # BullMQ's lowest precedence (2^21)

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_queues: dict[str, Any] = {}
_adders: dict[str, Any] = {}


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    import asyncio

    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="bullmq-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run a coroutine on the process's BullMQ loop and wait for its result."""
    import asyncio

    future = asyncio.run_coroutine_threadsafe(coro, _background_loop())
    return future.result(timeout)


async def get_queue(name: str | None = None) -> Any:
    """The jobs queue, or another by name; one Queue object per name per process."""
    name = name or get_settings().queue_name
    if name not in _queues:
        from bullmq import Queue

        _queues[name] = Queue(
            name, {"connection": redis_client.async_client(), "prefix": get_settings().queue_prefix}
        )
    return _queues[name]


def reset() -> None:
    """Close and forget the Queue objects (tests that point the settings at another queue)."""
    for q in list(_queues.values()):
        run(q.close())
    _queues.clear()
    with _lock:
        _adders.clear()  # their async connection never connected: nothing to close


# ---- adding a job: BullMQ's Queue.add, its Lua on the synchronous client -----------------------
# A job is added from the API's request thread and from worker threads. Hopping onto the loop for
# it cost more than the add itself (docs/capacity.md, "Queue throughput"): the add is one EVALSHA
# whose keys and arguments BullMQ builds without I/O, so its Lua runs here, in the caller's thread.
def _sync_command(name: str, lua: str) -> Callable[..., Awaitable[Any]]:
    """BullMQ's Lua command `name` as BullMQ calls it (an awaitable of keys and args), run on the
    factory's synchronous client: the await returns without ever suspending."""
    script = redis_client.client().register_script(lua)

    async def command(
        keys: list[Any] | None = None, args: list[Any] | None = None, client: Any = None
    ) -> Any:
        if client is not None:  # a pipeline (addBulk, flows): not a way we add jobs
            raise RuntimeError(
                f"bullmq ran {name} on a pipeline; chalicelib.infra.queue adds one job at a time"
            )
        # The client as of now, not as of registration: follows redis_client.reset().
        return script(keys=keys, args=args, client=redis_client.client())

    return command


def _adder(name: str) -> Any:
    """A BullMQ Queue for `name` used only to add jobs: BullMQ still builds each job (its options,
    the msgpack'd arguments, which add script: standard, prioritized or delayed), but its Lua
    commands run on the synchronous client. Its own asyncio connection is never used."""
    q = _adders.get(name)
    if q is not None:
        return q
    with _lock:
        q = _adders.get(name)
        if q is None:
            from bullmq import Queue

            q = Queue(
                name, {"connection": redis_client.async_client(), "prefix": get_settings().queue_prefix}
            )
            commands = q.scripts.commands
            for command_name, script in list(commands.items()):
                commands[command_name] = _sync_command(command_name, script.script)
            _adders[name] = q
        return q


def _completed(coro: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that finishes without suspending, run in this thread."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError(
        "bullmq's Queue.add awaited something besides its Lua script: chalicelib.infra.queue._adder "
        "no longer matches this bullmq version"
    )


def _add(queue_name: str, name: str, data: dict[str, Any], options: dict[str, Any]) -> None:
    """The one way a job is added: `Queue.add(name, data, options)`, one Redis round trip."""
    _completed(_adder(queue_name).add(name, data, options))


# ---- the jobs queue ---------------------------------------------------------------------------
def job_options(job_id: str, priority: int = 0) -> dict[str, Any]:
    settings = get_settings()
    return {
        "jobId": job_id,  # BullMQ ignores a second add of a live id: re-enqueueing is idempotent
        "attempts": settings.job_attempts,
        "backoff": {"type": "jitter"},  # computed by chalicelib.runtime.worker.backoff
        "priority": min(MAX_PRIORITY, priority),
        "removeOnComplete": True,
        # The failed set is the dead-letter queue; MySQL keeps the full history anyway.
        "removeOnFail": {"count": 10000},
    }


def enqueue(job_id: str, priority: int = 0, queue_name: str | None = None) -> None:
    """A job onto the jobs queue (lower priority values run first). Synchronous: one Redis round
    trip in the caller's thread (from a coroutine, that blocks its loop for that long)."""
    _add(queue_name or get_settings().queue_name, JOB_NAME, {"job_id": job_id}, job_options(job_id, priority))


async def _discard(job_id: str) -> None:
    q = await get_queue()
    await q.remove(job_id)  # no-op for a job a worker holds (locked) or one already gone


def discard(job_id: str) -> None:
    """Drop a job id from the queue (waiting, delayed or failed), so it can be added again."""
    run(_discard(job_id))


async def _states(job_ids: list[str], queue_name: str | None) -> dict[str, QueueState]:
    q = await get_queue(queue_name)
    return {job_id: QueueState(await q.getJobState(job_id)) for job_id in job_ids}


def states(job_ids: list[str], queue_name: str | None = None) -> dict[str, QueueState]:
    """BullMQ's state of each job id."""
    return run(_states(job_ids, queue_name), timeout=60) if job_ids else {}


def state(job_id: str, queue_name: str | None = None) -> QueueState:
    return states([job_id], queue_name)[job_id]


async def _depth(due_within_ms: int) -> int:
    q = await get_queue()
    counts = await q.getJobCounts(*DEPTH_STATES)
    # BullMQ scores a delayed job by (due timestamp in ms) * 0x1000 + a 12-bit counter.
    due_by = (int(time.time() * 1000) + due_within_ms + 1) * 0x1000
    due_soon = await q.client.zcount(q.keys["delayed"], 0, due_by)
    return sum(counts.values()) + due_soon


def depth(due_within_ms: int) -> int:
    """Jobs that need a worker now or soon: waiting, prioritized, active, and delayed ones due
    within `due_within_ms` (retries back off a few seconds)."""
    return run(_depth(due_within_ms))


async def _worker_ages(queue_name: str | None) -> dict[str, int]:
    q = await get_queue(queue_name)
    ages: dict[str, int] = {}
    # A worker's connections are named "{prefix}:{queue}:w:{host:pid}"; BullMQ's parse puts
    # that in `rawname` (its `name` is the queue's). A worker holds two such connections.
    for client in await q.get_workers():
        _, worker_mark, name = (client.get("rawname") or "").partition(":w:")
        if worker_mark:
            ages[name] = max(ages.get(name, 0), int(client.get("age") or 0))
    return ages


def worker_ages(queue_name: str | None = None) -> dict[str, int]:
    """Seconds each worker on the jobs queue has been connected, by its name (host:pid)."""
    return run(_worker_ages(queue_name))


def connected_workers() -> int:
    """Workers connected to the jobs queue (Redis CLIENT LIST), wherever they were started."""
    return len(worker_ages())


def longest_lived_worker() -> str | None:
    """The name of the worker connected the longest (ties: the smallest name), or None."""
    ages = worker_ages()
    return min(ages, key=lambda name: (-ages[name], name)) if ages else None


# ---- the delivery queue (outgoing webhooks) ---------------------------------------------------
def deliveries_queue_name() -> str:
    """Outgoing webhook deliveries have a queue of their own: a slow receiver never delays a render."""
    return f"{get_settings().queue_name}-webhooks"


def enqueue_delivery(delivery_id: str, data: dict[str, Any]) -> None:
    """One webhook delivery, retried with jittered backoff; the ones that never got through stay
    in the failed set. `delivery_id` makes a second add of the same delivery a no-op."""
    _add(deliveries_queue_name(), DELIVERY_JOB, data, delivery_options(delivery_id))


def delivery_options(delivery_id: str) -> dict[str, Any]:
    return {
        "jobId": delivery_id,
        "attempts": DELIVERY_ATTEMPTS,
        "backoff": {"type": "jitter"},
        "removeOnComplete": True,
        "removeOnFail": {"count": 10000},
    }


# ---- consumers (the worker) -------------------------------------------------------------------
Processor = Callable[[Any, str], Awaitable[Any]]


def consumer(queue_name: str, processor: Processor, options: dict[str, Any]) -> Any:
    """A BullMQ Worker on `queue_name` (call inside a running loop). `options` are BullMQ's
    worker options; the connection comes from the one factory."""
    from bullmq import Worker

    return Worker(
        queue_name,
        processor,
        {"connection": redis_client.worker_connection(), "prefix": get_settings().queue_prefix, **options},
    )


async def postpone(job: Any, token: str, delay_ms: int) -> NoReturn:
    """Put the job back in the delayed set without spending one of its attempts."""
    from bullmq import DelayedError

    await job.moveToDelayed(int(time.time() * 1000) + delay_ms, token)
    raise DelayedError()


def final_failure(message: str) -> Exception:
    """The exception that tells BullMQ not to try a job again (it goes to the failed set)."""
    from bullmq import UnrecoverableError

    return UnrecoverableError(message)


def is_final_attempt(job: Any) -> bool:
    return bool(job.attemptsMade + 1 >= int(job.opts.get("attempts") or 1))
