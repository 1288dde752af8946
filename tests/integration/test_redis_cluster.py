"""The cluster-mode Redis the suite runs Redis-backed tests against (tests/conftest.py,
`redis_mode`) is a real cluster, and the keyspace keeps what is used together in one slot."""

from __future__ import annotations

import pytest

from chalicelib.core.settings import Settings
from chalicelib.infra import redis_client, redis_keys


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
