"""Adding a job: chalicelib.infra.queue runs BullMQ's own `Queue.add` with its Lua on the synchronous Redis
client, in the caller's thread. The jobs it adds must be the jobs `await Queue.add` adds (same
stored options, data and priority; the same dedupe on a job id), and a real BullMQ Worker must
consume them unchanged. If a bullmq upgrade changes how `Queue.add` reaches its scripts, these
fail loudly instead of adding something else."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.infra import queue
from tests.workers import private_queue

# Against the standalone Redis and a cluster-mode one (ElastiCache Serverless is cluster mode).
pytestmark = pytest.mark.usefixtures("redis_mode")

# What BullMQ keeps of a job and hands to a worker; the job id and timestamp are the caller's.
KEPT = ("name", "data", "opts", "priority", "delay", "attemptsMade", "attemptsStarted", "stalledCounter")


@pytest.fixture
def own_queue(monkeypatch):
    """This test's jobs queue (and its deliveries queue), obliterated afterwards."""
    with private_queue(monkeypatch) as name:
        try:
            yield name
        finally:

            async def obliterate() -> None:
                for each in (name, queue.deliveries_queue_name()):
                    await (await queue.get_queue(each)).obliterate(force=True)

            queue.run(obliterate())


def _kept(job: Any, job_id: str) -> dict[str, Any]:
    """A job as stored, with its own id replaced by a placeholder (so two jobs compare)."""
    assert job is not None and job.id == job_id
    kept = {field: getattr(job, field) for field in KEPT}
    kept["opts"] = {**kept["opts"], "jobId": "<id>"}
    if isinstance(kept["data"], dict) and kept["data"].get("job_id") == job_id:
        kept["data"] = {**kept["data"], "job_id": "<id>"}
    return kept


def _reference_add(queue_name: str, job_name: str, data: dict[str, Any], options: dict[str, Any]) -> None:
    """The reference: bullmq's `await Queue.add`, on the process's loop and asyncio connection."""

    async def add() -> None:
        await (await queue.get_queue(queue_name)).add(job_name, data, options)

    queue.run(add())


def _stored(queue_name: str, *job_ids: str) -> dict[str, tuple[Any, str]]:
    """Each job as BullMQ reads it back, and its state."""

    async def read() -> dict[str, tuple[Any, str]]:
        q = await queue.get_queue(queue_name)
        return {job_id: (await q.getJob(job_id), await q.getJobState(job_id)) for job_id in job_ids}

    return queue.run(read())


def _consume(queue_name: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """Run a real BullMQ Worker (concurrency 1) on the queue until `count` jobs completed; the
    jobs its processor was handed (id, and what was kept of each), in order."""

    async def consume() -> list[tuple[str, dict[str, Any]]]:
        handed: list[tuple[str, dict[str, Any]]] = []
        completed = asyncio.Event()

        async def record(job, token):
            handed.append((job.id, _kept(job, job.id)))
            return "done"

        def on_completed(*_args) -> None:
            if len(handed) >= count:
                completed.set()

        worker = queue.consumer(queue_name, record, {"concurrency": 1})
        worker.on("completed", on_completed)
        try:
            await asyncio.wait_for(completed.wait(), timeout=30)
        finally:
            await worker.close()
        return handed

    return queue.run(consume(), timeout=60)


def _counts(queue_name: str) -> dict[str, int]:
    async def counts() -> dict[str, int]:
        q = await queue.get_queue(queue_name)
        return await q.getJobCounts("waiting", "prioritized", "delayed", "active", "failed", "completed")

    return queue.run(counts())


@pytest.mark.parametrize(
    "priority", [0, 7, queue.MAX_PRIORITY + 5], ids=["standard", "prioritized", "capped"]
)
def test_enqueue_stores_the_job_queue_add_stores(own_queue, priority):
    queue.enqueue("ours", priority=priority)
    _reference_add(own_queue, queue.JOB_NAME, {"job_id": "theirs"}, queue.job_options("theirs", priority))

    stored = _stored(own_queue, "ours", "theirs")
    (ours, our_state), (theirs, their_state) = stored["ours"], stored["theirs"]
    assert _kept(ours, "ours") == _kept(theirs, "theirs")
    assert our_state == their_state == ("prioritized" if priority else "waiting")
    assert ours.priority == min(priority, queue.MAX_PRIORITY)
    assert ours.opts["attempts"] > 1 and ours.opts["backoff"] == {"type": "jitter"}
    assert ours.opts["removeOnComplete"] is True and ours.opts["removeOnFail"] == {"count": 10000}


def test_enqueue_delivery_stores_the_job_queue_add_stores(own_queue):
    data = {"endpoint_id": "ep_1", "message_id": "msg_1", "payload": {"type": "job.succeeded", "n": [1, 2]}}
    queue.enqueue_delivery("ours", data)
    _reference_add(queue.deliveries_queue_name(), queue.DELIVERY_JOB, data, queue.delivery_options("theirs"))

    stored = _stored(queue.deliveries_queue_name(), "ours", "theirs")
    assert _kept(stored["ours"][0], "ours") == _kept(stored["theirs"][0], "theirs")
    assert stored["ours"][1] == stored["theirs"][1] == "waiting"


def test_a_second_add_of_a_live_job_id_is_a_no_op_either_way(own_queue):
    queue.enqueue("first-ours", priority=3)
    queue.enqueue("first-ours", priority=9)  # ours after ours
    _reference_add(own_queue, queue.JOB_NAME, {"job_id": "first-ours"}, queue.job_options("first-ours", 9))
    _reference_add(
        own_queue, queue.JOB_NAME, {"job_id": "first-theirs"}, queue.job_options("first-theirs", 3)
    )
    queue.enqueue("first-theirs", priority=9)  # ours after theirs

    stored = _stored(own_queue, "first-ours", "first-theirs")
    assert stored["first-ours"][0].priority == stored["first-theirs"][0].priority == 3
    assert _counts(own_queue)["prioritized"] == 2


def test_a_bullmq_worker_consumes_enqueued_jobs_as_it_consumes_queue_add_ones(own_queue):
    # A standard job, prioritized ones added out of order, a duplicate, and a pair added each way.
    queue.enqueue("late", priority=9)
    queue.enqueue("early", priority=2)
    queue.enqueue("early", priority=50)  # dedupe: still "early" at 2, and run once
    queue.enqueue("ours", priority=5)
    _reference_add(own_queue, queue.JOB_NAME, {"job_id": "theirs"}, queue.job_options("theirs", 5))
    queue.enqueue("plain")

    handed = _consume(own_queue, 5)

    order = [job_id for job_id, _ in handed]
    assert order[:2] == ["plain", "early"] and order[-1] == "late"  # BullMQ: no priority first
    assert sorted(order) == ["early", "late", "ours", "plain", "theirs"]
    kept = dict(handed)
    assert kept["early"]["priority"] == 2 and kept["plain"]["priority"] == 0
    assert kept["ours"] == kept["theirs"]  # the same options, data shape and priority either way
    # Nothing left over (the duplicate was never a second job), and removeOnComplete held.
    assert _counts(own_queue) == {
        "waiting": 0,
        "prioritized": 0,
        "delayed": 0,
        "active": 0,
        "failed": 0,
        "completed": 0,
    }
    assert queue.state("ours") is queue.QueueState.unknown


def test_enqueue_from_many_threads_at_once(own_queue):
    """The API's request threads and the worker's pipeline threads add at the same time."""
    ids = [f"t{n}" for n in range(120)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job_id: queue.enqueue(job_id, priority=int(job_id[1:]) % 3), ids))
    stored = _stored(own_queue, *ids)
    assert {job_id: job.priority for job_id, (job, _state) in stored.items()} == {
        job_id: int(job_id[1:]) % 3 for job_id in ids
    }
    assert _counts(own_queue)["waiting"] + _counts(own_queue)["prioritized"] == len(ids)


def test_an_add_that_would_wait_on_the_loop_fails_loudly():
    """If a bullmq version's Queue.add ever awaits more than its script (a version check, a
    connection of its own), the synchronous add must refuse rather than half-run it."""

    async def suspends() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="no longer matches this bullmq version"):
        queue._completed(suspends())
