"""The cluster-mode Redis the suite runs Redis-backed tests against (tests/conftest.py,
`redis_mode`) is a real cluster, the keyspace keeps what is used together in one slot, and a
cluster that loses a node is a Redis outage (503 in the API, a pause in the worker), not a bug."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from chalicelib.core.settings import Settings, get_settings
from chalicelib.infra import outage, queue, redis_client, redis_keys
from chalicelib.infra.outage import Store
from tests.conftest import grant_plan, point_redis_at, running_redis_cluster
from tests.workers import wait_until


@pytest.fixture
def cluster(redis_mode):
    if redis_mode != "cluster":
        pytest.skip("about the cluster")
    return redis_client.client()


def test_the_suites_cluster_refuses_a_command_across_slots(redis_cluster):
    import redis

    a, b = redis_keys.job_events("job_a"), redis_keys.job_events("job_b")
    # A plain client on one node, as the server sees it (redis-py's cluster client would split
    # this DEL by slot itself; a MULTI or a Lua script it cannot split).
    node = redis.Redis(port=redis_cluster.ports[0])
    with pytest.raises(redis.ResponseError, match="same slot"):
        node.execute_command("DEL", a, b)
    node.close()


@pytest.mark.parametrize("redis_mode", ["cluster"], indirect=True)
def test_a_transaction_across_slots_fails_on_the_cluster_client(cluster):
    from redis.exceptions import RedisClusterException, ResponseError

    pipe = cluster.pipeline(transaction=True)
    pipe.incr(redis_keys.job_cancel("job_a"))
    pipe.incr(redis_keys.job_cancel("job_b"))
    with pytest.raises((RedisClusterException, ResponseError), match="(?i)slot"):
        pipe.execute()


@pytest.mark.parametrize("redis_mode", ["cluster"], indirect=True)
def test_keys_used_together_share_a_slot(cluster):
    slot = cluster.keyslot
    assert slot(redis_keys.job_events("job_x")) == slot(redis_keys.job_cancel("job_x"))
    assert slot(redis_keys.login_failures("acct")) == slot(redis_keys.login_blocked("acct"))
    assert slot(redis_keys.provider_failures("openai", "e1")) == slot(
        redis_keys.provider_open("openai", "e1")
    )
    cluster.delete(redis_keys.job_events("job_x"), redis_keys.job_cancel("job_x"))  # one command: fine


def test_cluster_mode_needs_a_hash_tagged_queue_prefix():
    with pytest.raises(ValueError, match="hash tag"):
        Settings(redis_cluster=True, queue_prefix="bull")
    assert Settings(redis_cluster=True).queue_prefix == "{bull}"


@pytest.fixture
def stalled_cluster(tmp_path, monkeypatch):
    """A cluster of this test's own whose nodes declare a silent peer failed after 1 s, with the
    app on it and 1 s socket timeouts (a call to a stalled node fails in seconds, not 30 s each).
    Yields stop(key): SIGSTOP the node serving `key` (a process this fixture started)."""
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT_S", 1)
    monkeypatch.setattr(redis_client, "CONNECT_TIMEOUT_S", 1)
    with running_redis_cluster(tmp_path, "--cluster-node-timeout", "1000") as cluster:
        point_redis_at(monkeypatch, cluster.url, cluster=True)
        outage.recovered(Store.redis)

        def stop(key: str) -> int:
            port = redis_client.client().get_node_from_key(key).port
            os.kill(cluster.pids[cluster.ports.index(port)], signal.SIGSTOP)
            return port

        yield cluster, stop
    monkeypatch.undo()
    redis_client.reset()
    queue.reset()
    outage.recovered(Store.redis)


def _failed_over(cluster, stopped: int) -> bool:
    """A surviving node says the cluster is down (it took the stopped one for failed)."""
    import redis

    port = next(p for p in cluster.ports if p != stopped)
    with redis.Redis(port=port, decode_responses=True, socket_timeout=1) as node:
        return "cluster_state:fail" in node.execute_command("CLUSTER", "INFO")


def _on_another_node(stopped: int) -> str:
    """A job id whose keys live on another node than the stopped one."""
    client = redis_client.client()
    return next(
        job_id
        for job_id in (f"job_live{i}" for i in range(1000))
        if client.get_node_from_key(redis_keys.job_events(job_id)).port != stopped
    )


def _node_of(job_id: str) -> int:
    return redis_client.client().get_node_from_key(redis_keys.job_events(job_id)).port


def test_a_stopped_cluster_node_makes_the_api_answer_503_not_500(api, user, stalled_cluster):
    """Reading a job's events while the node holding its stream is stalled (a timeout), then
    while the nodes left say CLUSTERDOWN: 503 `unavailable`, dependency redis, both times."""
    cluster, stop = stalled_cluster
    grant_plan(user["user"]["id"], "business")  # room for the few jobs it takes
    stalled_job = api.submit_ok(user)
    other_job = next(
        job_id
        for job_id in (api.submit_ok(user, prompt=f"another {i}") for i in range(20))
        if _node_of(job_id) != _node_of(stalled_job)
    )
    stopped = stop(redis_keys.job_events(stalled_job))
    for job_id in (stalled_job, other_job):
        if job_id == other_job:
            wait_until(lambda: _failed_over(cluster, stopped), 30, "the cluster declaring a node failed")
        reply = api.call("GET", f"/v1/jobs/{job_id}/events?wait_s=0", token=user["token"])
        assert reply.status_code == 503, reply.body
        assert reply.json["error"]["code"] == "unavailable"
        assert reply.json["error"]["details"]["dependency"] == "redis"


def test_a_stopped_cluster_node_pauses_the_workers_heartbeat_as_an_outage(stalled_cluster, monkeypatch):
    """The worker's own Redis writes (here its heartbeat) meet a stalled node and a cluster that
    says CLUSTERDOWN; both are reported as a Redis outage, never logged as a bug."""
    from chalicelib.runtime import worker

    cluster, stop = stalled_cluster
    monkeypatch.setattr(get_settings(), "job_lease_s", 3)
    stopped = stop(redis_keys.job_heartbeat("job_stalled"))
    live = _on_another_node(stopped)
    reports: list[tuple[Store, str]] = []

    def beat(job_id: str) -> None:
        done = threading.Event()

        def report(store, exc, where=""):
            reports.append((store, where))
            done.set()  # one failed beat is enough: the loop ends after its pause

        monkeypatch.setattr(outage, "report", report)
        asyncio.run(asyncio.wait_for(worker._heartbeat(job_id, "worker-1", done), timeout=90))

    beat("job_stalled")  # the node itself: timed out
    wait_until(lambda: _failed_over(cluster, stopped), 30, "the cluster declaring a node failed")
    beat(live)  # a node that answers, for a cluster that is down
    assert reports == [(Store.redis, "heartbeat"), (Store.redis, "heartbeat")]
