"""The dispatcher starts ceil(depth / concurrency) workers, at most MAX_WORKERS, minus those
already running: as Fargate tasks on the emulator's ECS, or as local worker processes."""

from __future__ import annotations

import math
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, queue, redis_client, redis_keys
from chalicelib.runtime import dispatcher, launcher
from tests.workers import wait_for_line, wait_until


@pytest.fixture
def enqueued():
    """Enqueue n jobs (ids only; no rows) on this session's queue; removed afterwards."""
    ids: list[str] = []

    def enqueue(n: int) -> list[str]:
        for _ in range(n):
            ids.append(f"job_dispatch_{secrets.token_hex(6)}")
            queue.enqueue(ids[-1])
        return ids

    yield enqueue

    for job_id in ids:
        queue.discard(job_id)


@pytest.fixture
def ecs(monkeypatch):
    """A cluster, task definition, VPC, subnet and security group on the emulator; all removed."""
    ec2, ecs_client = aws.client("ec2"), aws.client("ecs")
    name = f"media-test-{secrets.token_hex(4)}"
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    # As in template.yaml (and the emulator's RunTask needs the ENI's DNS name).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description="test workers", VpcId=vpc)["GroupId"]
    ecs_client.create_cluster(clusterName=name)
    task_def = ecs_client.register_task_definition(
        family=name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {"name": "worker", "image": "media-worker:test", "memory": 2048, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    settings = get_settings()
    for field, value in {
        "dispatch_mode": "ecs",
        "ecs_cluster": name,
        "worker_task_definition": task_def,
        "worker_subnets": subnet,
        "worker_security_group": group,
        "worker_concurrency": 2,
        "max_workers": 10,
    }.items():
        monkeypatch.setattr(settings, field, value)
    yield ecs_client
    for arn in ecs_client.list_tasks(cluster=name)["taskArns"]:
        ecs_client.stop_task(cluster=name, task=arn, reason="test over")
    ecs_client.deregister_task_definition(taskDefinition=task_def)
    ecs_client.delete_cluster(cluster=name)
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_desired_workers_rounds_up_and_caps():
    assert dispatcher.desired_workers(0, 2, 10) == 0
    assert dispatcher.desired_workers(5, 2, 10) == 3
    assert dispatcher.desired_workers(50, 2, 4) == 4


def test_depth_counts_waiting_and_prioritized_jobs(enqueued):
    before = dispatcher.queue_depth()
    enqueued(2)
    queue.enqueue(enqueued(1)[-1], priority=5)  # a second add of a live id is a no-op
    assert dispatcher.queue_depth() == before + 3


def test_ecs_starts_the_missing_tasks_once(ecs, enqueued):
    enqueued(5)
    depth = dispatcher.queue_depth()
    expected = min(10, math.ceil(depth / 2))

    first = dispatcher.dispatch()
    assert (first["mode"], first["running"], first["started"]) == ("ecs", 0, expected)
    tasks = ecs.describe_tasks(cluster=get_settings().ecs_cluster, tasks=first["ids"])["tasks"]
    assert {t["launchType"] for t in tasks} == {"FARGATE"}
    assert {t["startedBy"] for t in tasks} == {dispatcher.STARTED_BY}

    second = dispatcher.dispatch()  # the first run's tasks are still running
    assert (second["running"], second["started"]) == (expected, 0)


@pytest.mark.usefixtures("redis_mode")
def test_a_pass_that_overlaps_another_starts_nothing(ecs, enqueued):
    """Without reserved concurrency (off by default) the minute's pass and a submission's may
    overlap: the second sees the first's lock and leaves the starting to it."""
    from chalicelib.infra import redis_client, redis_keys

    enqueued(3)
    lock = redis_keys.dispatch_lock(get_settings().queue_name)
    redis_client.client().set(lock, "another-pass", px=dispatcher.PASS_LOCK_MS)  # a pass is running
    try:
        assert dispatcher.dispatch()["started"] == 0
    finally:
        redis_client.client().delete(lock)
    assert dispatcher.dispatch()["started"] > 0
    assert not redis_client.client().exists(lock)  # released after the pass


def test_ecs_respects_max_workers(ecs, enqueued, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_workers", 1)
    enqueued(6)
    assert dispatcher.dispatch()["started"] == 1
    assert dispatcher.running_tasks() == 1


def test_nudge_does_nothing_unless_enabled(ecs, enqueued, monkeypatch):
    enqueued(1)
    dispatcher.nudge()
    assert dispatcher.running_tasks() == 0
    monkeypatch.setattr(get_settings(), "dispatch_on_submit", True)
    dispatcher.nudge()
    assert dispatcher.running_tasks() >= 1


def test_a_burst_of_nudges_dispatches_once_per_window(ecs, enqueued, monkeypatch):
    from chalicelib.infra import redis_client, redis_keys

    settings = get_settings()
    monkeypatch.setattr(settings, "dispatch_on_submit", True)
    monkeypatch.setattr(settings, "nudge_debounce_ms", 60_000)
    monkeypatch.setattr(settings, "max_workers", 50)
    window = redis_keys.dispatch_nudge(settings.queue_name)
    redis_client.client().delete(window)
    enqueued(2)
    dispatcher.nudge()  # the burst's first submission dispatches
    started = dispatcher.running_tasks()
    assert started >= 1
    # Room for more whatever the session's queue already held (the first pass may have filled 50).
    monkeypatch.setattr(settings, "max_workers", started + 10)
    enqueued(20)
    dispatcher.nudge()  # within the window: no second dispatch, whatever the queue holds
    assert dispatcher.running_tasks() == started
    redis_client.client().delete(window)  # the window is over
    dispatcher.nudge()
    assert dispatcher.running_tasks() > started
    redis_client.client().delete(window)


@pytest.fixture
def local_dir(monkeypatch):
    """A private run/ and log/ for the processes a test starts; they are stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="media-dispatch-"))
    monkeypatch.setattr(get_settings(), "local_dir", str(path))
    yield path
    for pid_file in (path / "run").glob("stack-worker-*.pid"):
        launcher.stop(int(pid_file.read_text()))
    shutil.rmtree(path)


def test_local_mode_starts_worker_processes(local_dir, enqueued, monkeypatch):
    settings = get_settings()
    for field, value in {"dispatch_mode": "local", "worker_concurrency": 2, "max_workers": 2}.items():
        monkeypatch.setattr(settings, field, value)
    assert dispatcher.running_local_workers() == 0
    enqueued(5)
    # A pass an earlier test's submission nudged may still hold the one-pass lock: not ours.
    redis_client.client().delete(redis_keys.dispatch_lock(settings.queue_name))

    first = dispatcher.dispatch()
    assert (first["mode"], first["started"]) == ("local", 2)
    logs = sorted((local_dir / "log").glob("worker-dispatched-*.log"))
    assert len(logs) == 2
    for log in logs:
        wait_for_line(log, "worker ready")
    wait_until(lambda: dispatcher.running_local_workers() == 2, 30, "two workers on the queue")

    second = dispatcher.dispatch()
    assert (second["running"], second["started"]) == (2, 0)
