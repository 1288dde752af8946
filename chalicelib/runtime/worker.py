"""The worker: consumes the BullMQ queue and runs each job's pipeline.

Run: `python -m chalicelib.runtime.worker` (locally a plain process, in AWS the ECS container's command).
`--check` pings Redis and exits 0/1 (the container healthcheck).

BullMQ for Python is asyncio-only and renews job locks on the event loop, so the pipeline
(pymysql, boto3, Pillow, ffmpeg) runs in a thread via `asyncio.to_thread`; the loop stays free.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import socket
import sys
import threading

from chalicelib.core import observability
from chalicelib.core.settings import get_settings
from chalicelib.infra import outage, queue, redis_client, redis_keys
from chalicelib.jobs import lifecycle
from chalicelib.pipeline import engine, providers
from chalicelib.webhooks import service as outgoing_webhooks

log = logging.getLogger("chalicelib.runtime.worker")

BUSY_DELAY_MS = 2_000  # how long a job of a user at their concurrency limit waits before a retry
WEBHOOK_CONCURRENCY = 8  # deliveries are I/O: many at once per worker
SURPLUS_CHECK_S = 5.0  # how often an idle worker asks whether it is surplus (two Redis calls)
RETRY_BASE_MS = 2_000
RETRY_MAX_MS = 60_000
OUTAGE_BACKOFF_S = 0.5  # the first pause of a job cut off from a store; doubles up to the cap
OUTAGE_BACKOFF_MAX_S = 5.0
OUTAGE_REQUEUE_MS = 10_000  # past STORE_OUTAGE_MAX_S: back to the queue, tried again after this


async def _keep_lease(job_id: str, owner: str, stop: threading.Event) -> None:
    """Renew the job's lease from the event loop while the pipeline thread works; if the job
    is no longer ours (canceled, timed out, taken over), tell the thread to stop. While MySQL
    is away the renewal keeps being tried: the lease is regained when it is back (unless
    another worker took the job over meanwhile: then the renewal says so)."""
    lease_s = get_settings().job_lease_s
    while not stop.is_set():
        await asyncio.sleep(lease_s / 3)
        try:
            ours = await asyncio.to_thread(lifecycle.renew_lease, job_id, owner, lease_s)
        except Exception as exc:
            store = outage.store_of(exc)
            if store is None:
                log.exception("lease renewal failed", extra={"job_id": job_id})
            else:
                outage.report(store, exc, "lease")
            continue
        if not ours:
            stop.set()


async def _heartbeat(job_id: str, owner: str, stop: threading.Event) -> None:
    """Say in Redis that this worker is alive and holds the job, so the reaper does not take a
    worker cut off from MySQL (its lease lapsing) for a dead one."""
    lease_s = get_settings().job_lease_s
    key = redis_keys.job_heartbeat(job_id)
    while not stop.is_set():
        try:
            await asyncio.to_thread(redis_client.client().set, key, owner, ex=lease_s * 2)
        except Exception as exc:
            store = outage.store_of(exc)
            if store is None:
                log.exception("heartbeat failed", extra={"job_id": job_id})
            else:
                outage.report(store, exc, "heartbeat")
        await asyncio.sleep(lease_s / 3)


async def _run_through_outages(job_id: str, token: str, stop: threading.Event) -> str:
    """engine.run_job, paused and run again (from its checkpoints, in the same attempt) while a
    store is away, for up to STORE_OUTAGE_MAX_S; past that the StoreOutage goes to the caller."""
    settings = get_settings()
    loop = asyncio.get_running_loop()
    paused_at: float | None = None
    delay = OUTAGE_BACKOFF_S
    while True:
        try:
            result = await asyncio.to_thread(engine.run_job, job_id, token, stop, settings.job_lease_s)
        except engine.StoreOutage as exc:
            now = loop.time()
            if paused_at is None:
                paused_at = now
                log.warning("job paused: %s", exc, extra={"job_id": job_id})
            outage.report(exc.store, exc.__cause__ or exc, "worker")
            if now - paused_at >= settings.store_outage_max_s:
                raise
            await asyncio.sleep(random.uniform(delay / 2, delay))  # jitter: the workers' retries spread
            delay = min(delay * 2, OUTAGE_BACKOFF_MAX_S)
            if stop.is_set():  # the lease said the job is no longer ours
                raise engine.JobGone(job_id) from None
            continue
        if paused_at is not None:
            log.info(
                "job ran through a store outage: done %.1f s after its first pause",
                loop.time() - paused_at,
                extra={"job_id": job_id},
            )
        return result


async def _through_outage(transition, *args):
    """A lifecycle transition after a real step failure, tried again while MySQL is away (up to
    STORE_OUTAGE_MAX_S): each is conditional on the job's state and one transaction, so a
    second run after a commit whose answer was lost changes nothing (no second refund, no
    second attempt)."""
    loop = asyncio.get_running_loop()
    bound = loop.time() + get_settings().store_outage_max_s
    delay = OUTAGE_BACKOFF_S
    while True:
        try:
            return await asyncio.to_thread(transition, *args)
        except Exception as exc:
            store = outage.store_of(exc)
            if store is None or loop.time() >= bound:
                raise
            outage.report(store, exc, "worker")
        await asyncio.sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, OUTAGE_BACKOFF_MAX_S)


async def process(job, token) -> str:
    """BullMQ processor of the jobs queue: run the job's pipeline in a thread, keep its lease,
    and map the outcome to a lifecycle transition and BullMQ's retry or give-up."""
    job_id = job.data["job_id"]
    observability.bind_job(job_id)  # this task's and its threads' log lines carry the job id
    final_attempt = queue.is_final_attempt(job)
    stop = threading.Event()
    lease = asyncio.create_task(_keep_lease(job_id, token, stop))
    heartbeat = asyncio.create_task(_heartbeat(job_id, token, stop))
    try:
        return await _run_through_outages(job_id, token, stop)
    except engine.StoreOutage:
        # Past STORE_OUTAGE_MAX_S: back to the queue for later, still without spending an attempt.
        log.warning("store outage past its bound: job back to the queue", extra={"job_id": job_id})
        await queue.postpone(job, token, OUTAGE_REQUEUE_MS + random.randint(0, OUTAGE_REQUEUE_MS))
    except engine.UserBusy:
        # Per-user concurrency: wait, without spending an attempt, and let other users' jobs by.
        await queue.postpone(job, token, BUSY_DELAY_MS + random.randint(0, BUSY_DELAY_MS))
    except engine.JobGone:
        log.info("job canceled or no longer ours; dropping it", extra={"job_id": job_id})
        return "gone"
    except engine.StepError as exc:
        if exc.transient and not final_attempt:
            await _through_outage(lifecycle.retry_later, job_id, exc.code, exc.message, exc.step)
            raise  # BullMQ schedules the next attempt with backoff
        await _through_outage(lifecycle.fail, job_id, exc.code, exc.message, exc.step)
        raise queue.final_failure(f"{exc.code}: {exc.message}") from None
    finally:
        stop.set()
        lease.cancel()
        heartbeat.cancel()


def backoff(attempts_made: int, *_args) -> int:
    """Exponential backoff with full jitter (ms): spreads the retries of jobs that failed together."""
    high = min(RETRY_BASE_MS * 2 ** max(0, attempts_made - 1), RETRY_MAX_MS)
    return random.randint(high // 2, high)  # (capped first: from attempt 7 on, base // 2 > max)


def worker_options() -> dict:
    """BullMQ worker options of the jobs queue (the connection comes from queue.consumer)."""
    settings = get_settings()
    return {
        "concurrency": settings.worker_concurrency,
        "lockDuration": settings.worker_lock_ms,
        "stalledInterval": settings.worker_stalled_interval_ms,
        "maxStalledCount": 2,
        "settings": {"backoffStrategy": backoff},  # the queue's "jitter" backoff type
        "name": f"{socket.gethostname()}:{os.getpid()}",  # tells workers apart in CLIENT LIST
    }


async def serve() -> None:
    settings = get_settings()
    providers.check_settings(settings)  # a bad PIPELINE or DEFAULT_PROVIDERS stops the worker here
    worker = queue.consumer(settings.queue_name, process, worker_options())
    deliveries = queue.consumer(
        queue.deliveries_queue_name(),
        outgoing_webhooks.deliver,
        {**worker_options(), "concurrency": WEBHOOK_CONCURRENCY},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if settings.worker_idle_exit_s > 0:
        loop.create_task(
            exit_when_idle(
                worker,
                settings.worker_idle_exit_s,
                stop,
                settings.worker_surplus_idle_s,
                worker_options()["name"],
            )
        )
    log.info("worker started: queue=%s concurrency=%s", settings.queue_name, settings.worker_concurrency)
    print("worker ready", flush=True)
    await stop.wait()
    log.info("worker stopping: waiting for running jobs")
    await asyncio.gather(worker.close(), deliveries.close())


async def exit_when_idle(
    worker, idle_s: float, stop: asyncio.Event, surplus_idle_s: float = 0, name: str = ""
) -> None:
    """Set `stop` once no job has run for `idle_s` (scale to zero: the dispatcher starts more),
    or for `surplus_idle_s` when the queue is empty and this is not the longest-lived worker:
    after a burst the surplus goes within seconds, one worker stays warm for the next job.

    Activity is a job held by the worker (`worker.jobs`) or one that began or ended since the
    last look (BullMQ's events), so even a job shorter than the check interval counts.
    """
    loop = asyncio.get_running_loop()
    last_busy = last_surplus_check = loop.time()

    def touch(*_args) -> None:
        nonlocal last_busy
        last_busy = loop.time()

    for event in queue.ACTIVITY_EVENTS:
        worker.on(event, touch)
    while not stop.is_set():
        if worker.jobs:
            touch()
        now = loop.time()
        idle_for = now - last_busy
        surplus_due = 0 < surplus_idle_s <= idle_for and now - last_surplus_check >= SURPLUS_CHECK_S
        if surplus_due:
            last_surplus_check = now
        if idle_for >= idle_s or (surplus_due and await _is_surplus(name)):
            log.info("worker idle for %.0f s: exiting", idle_for)
            print("worker idle exit", flush=True)
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(1.0, idle_s - idle_for))
        except TimeoutError:
            pass


async def _is_surplus(name: str) -> bool:
    """Nothing waits in the queue and another worker has been up longer (it stays warm)."""

    def ask() -> bool:
        return queue.depth(0) == 0 and queue.longest_lived_worker() not in (None, name)

    try:
        return await asyncio.to_thread(ask)
    except Exception:  # Redis unreachable: keep the worker; the long idle exit still applies
        log.warning("surplus check failed", exc_info=True)
        return False


def check() -> int:
    try:
        redis_client.client().ping()
        return 0
    except redis_client.error():
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.runtime.worker", description=__doc__)
    parser.add_argument("--check", action="store_true", help="ping Redis and exit 0 or 1")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    observability.setup()  # ours as JSON lines; the basic format above is for libraries
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
