"""Test wiring, by directory (the one place): each tier's tests get its marker (`-m media`), and the
tiers that use services get real MariaDB, Redis and the AWS emulator on loopback (`make test`
brings them up); tests/unit and tests/media use none of them.
Each session works in its own database, bucket, Redis db and queue, and removes them at the
end, so tests leave nothing behind and never touch the demo's data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

RUN = secrets.token_hex(4)
os.environ.update(
    {
        "STAGE": "local",
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", f"mysql://root:@127.0.0.1:3306/media_test_{RUN}"),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "MEDIA_BUCKET": f"media-test-{RUN}",
        "QUEUE_NAME": f"media-test-{RUN}",
        "WORK_DIR": f"/tmp/media-test-{RUN}",
        "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        # Generous limits for the suite; the rate-limit tests set tight ones themselves.
        "RATE_LIMIT_AUTH": "100000/minute",
        "RATE_LIMIT_JOBS": "100000/minute",
        "RATE_LIMIT_UPLOADS": "100000/minute",
        "RATE_LIMIT_EMAIL": "100000/minute",
        "RATE_LIMIT_CREDENTIAL_WRITES": "100000/minute",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
)

from chalicelib.core.settings import get_settings  # noqa: E402
from chalicelib.infra import aws, db, redis_client, redis_keys  # noqa: E402
from chalicelib.infra.migrate import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def start_ses_emulator():
    """This session's SES: a moto server in this process (see tests/mailbox.py for why), reached
    through AWS_ENDPOINT_URL_SES by the app here and by the processes the tests start."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL_SES"] = f"http://127.0.0.1:{port}"
    aws.client("ses").verify_email_identity(EmailAddress=get_settings().mail_from)
    return server


TESTS = Path(__file__).resolve().parent
# tier (folder) -> its markers; the tiers in SERVICE_TIERS run against the real services.
TIER_MARKERS = {
    "unit": ["unit"],
    "media": ["media"],
    "integration": ["integration"],
    "e2e": ["e2e"],
    "console": ["browser"],
    "client": ["client"],
}
SERVICE_TIERS = {"integration", "e2e", "console", "client"}


def _tier(path: Path) -> str:
    return Path(path).resolve().relative_to(TESTS).parts[0]


def pytest_collection_modifyitems(items):
    for item in items:
        for marker in TIER_MARKERS.get(_tier(item.path), []):
            item.add_marker(marker)


@pytest.fixture(scope="session", autouse=True)
def _tier_services(request):
    """The session's database, bucket, queue and SES, before any other fixture when a tier that
    needs them runs: module and session fixtures that start processes (a stack, the fuzz API)
    hand the environment these set to their children."""
    if any(_tier(item.path) in SERVICE_TIERS for item in request.session.items):
        request.getfixturevalue("isolated_backends")


@pytest.fixture(scope="session")
def isolated_backends():
    """This session's database (migrated), bucket and queue; all removed afterwards."""
    settings = get_settings()
    migrate()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=settings.media_bucket)
    ses = start_ses_emulator()
    yield
    ses.stop()
    job_ids = [r["id"] for r in db.fetch_all("SELECT id FROM jobs")]
    redis = redis_client.client()
    for job_id in job_ids:
        redis.delete(redis_keys.job_events(job_id), redis_keys.job_cancel(job_id))
    # This session's queues: the in-process one and the e2e stack's (`{queue_name}-e2e`). Not the
    # rate-limit and failed-login counters: they expire by themselves, and other sessions on the
    # machine share the test db and may be counting in them right now.
    for pattern in (
        f"{settings.queue_prefix}:{settings.queue_name}*",
        "media:longpoll:*",
    ):  # the test Redis db is the suite's own
        for key in redis.scan_iter(pattern, count=1000):
            redis.delete(key)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.media_bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=settings.media_bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=settings.media_bucket)
    database = settings.mysql_params()["database"]
    db.close()
    conn = db.connect(database=False)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    conn.close()


@pytest.fixture
def api():
    """The Chalice app in-process: real routing, middleware, database, Redis and S3."""
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        yield Api(client.http)


SHORT_JOB = {"prompt": "A kite over a quiet harbour at dawn", "duration_s": 5, "aspect": "1:1"}


class Api:
    """A tiny JSON client over Chalice's test client."""

    def __init__(self, http):
        self.http = http

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        headers: dict | None = None,
        raw: bytes | None = None,
    ):
        hdrs = {"Content-Type": "application/json"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = self.http.request(method, path, headers=hdrs, body=data)
        response.headers = {k.lower(): v for k, v in response.headers.items()}
        response.json = (
            json.loads(response.body)
            if response.body and response.headers.get("content-type", "").startswith("application/json")
            else None
        )
        return response

    def submit(self, user: dict, body: dict | None = None, headers: dict | None = None, **fields):
        """POST /v1/jobs as `user`: `body` (default SHORT_JOB) with `fields` over it -> the response."""
        job = {**(SHORT_JOB if body is None else body), **fields}
        return self.call("POST", "/v1/jobs", job, token=user["token"], headers=headers)

    def submit_ok(self, user: dict, body: dict | None = None, **fields) -> str:
        """The same, asserting it was accepted -> the job's id."""
        response = self.submit(user, body, **fields)
        assert response.status_code == 202, response.body
        return response.json["id"]

    def signup(
        self, email: str | None = None, password: str = "correct horse battery", verified: bool = True
    ) -> dict:
        """A new account, logged in (signup's 201 reply holds a token too; login is what a second
        device does). Verified unless `verified=False` (only a verified address may create
        API keys, webhook endpoints and provider keys)."""
        email = email or f"user-{secrets.token_hex(6)}@example.com"
        response = self.call("POST", "/v1/auth/signup", {"email": email, "password": password})
        assert response.status_code == 201, response.body
        login = self.call("POST", "/v1/auth/login", {"email": email, "password": password})
        assert login.status_code == 200, login.body
        email = login.json["user"]["email"]  # the canonical form: where the mail went
        user = {**login.json, "email": email, "password": password, "token": login.json["access_token"]}
        if verified:
            user["user"] = self.verify_email(user)["user"]
        return user

    def verify_email(self, user: dict) -> dict:
        """Open the verification link mailed to the user (read back from the emulator's SES),
        signed in as the user, as the console's page does."""
        from tests.mailbox import last_link

        if user["user"].get("email_verified"):  # signup(verified=True) did it already
            return {"user": user["user"]}
        _, token = last_link(user["email"], "/verify-email")
        response = self.call("POST", "/v1/auth/verify-email", {"token": token}, token=user["token"])
        assert response.status_code == 200, response.body
        return response.json


def signup_over_http(base_url: str, email: str | None = None, verified: bool = True) -> str:
    """Api.signup for a real HTTP server (live_api, local_stack): a new account's access token."""
    import httpx

    from tests.mailbox import last_link

    email = email or f"user-{secrets.token_hex(6)}@example.com"
    body = {"email": email, "password": "a long password"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert http.post("/v1/auth/signup", json=body).status_code == 201
        token = http.post("/v1/auth/login", json=body).json()["access_token"]
        if verified:
            _, link = last_link(email, "/verify-email")
            confirmed = http.post(
                "/v1/auth/verify-email", json={"token": link}, headers={"Authorization": f"Bearer {token}"}
            )
            assert confirmed.status_code == 200, confirmed.text
    return token


@pytest.fixture
def workers(monkeypatch, tmp_path):
    """Worker processes on a queue of this test's own, quick to take over a killed one's jobs
    (FAST_TAKEOVER); their logs are printed, which pytest shows when the test failed."""
    from tests.workers import FAST_TAKEOVER, Workers, private_queue

    with private_queue(monkeypatch) as name:
        pool = Workers(tmp_path, {"QUEUE_NAME": name, "WORKER_CONCURRENCY": "1", **FAST_TAKEOVER})
        yield pool
        pool.stop_all()
        print(pool.logs())


@pytest.fixture
def user(api) -> dict:
    return api.signup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack(NamedTuple):
    url: str
    logs: Path


@contextmanager
def local_stack(logs: Path, env: dict[str, str], port: int | None = None) -> Iterator[Stack]:
    """The API (`chalice local`) and one worker process with `env`, for the block; the tails of
    their logs are printed at the end (pytest shows them when a test failed)."""
    from chalicelib.runtime import launcher

    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    api = launcher.spawn(launcher.api_command(port), logs / "api.log", env)
    worker = launcher.spawn(launcher.worker_command(), logs / "worker.log", env)
    try:
        launcher.wait_http(f"{url}/v1/health")
        yield Stack(url, logs)
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)
        for log in sorted(logs.iterdir()):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def live_api(tmp_path_factory):
    """`chalice local` over real HTTP (threaded), for tests about concurrent clients."""
    from chalicelib.runtime import launcher

    port = free_port()
    log = tmp_path_factory.mktemp("live-api") / "api.log"
    proc = launcher.spawn(launcher.api_command(port), log)
    try:
        launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        launcher.stop(proc.pid)


def grant_plan(user_id: str, plan: str, renewed_now: bool = False) -> None:
    """Arrange: the user holds an active membership on `plan` (as a Whop webhook would leave it);
    `renewed_now`: its renewal period starts now (a purchase: a new credits period)."""
    from datetime import timedelta

    from chalicelib.billing import repository as billing
    from chalicelib.core.ids import new_id, utcnow

    now = utcnow()

    with db.transaction() as cur:
        billing.upsert_membership(
            cur,
            {
                "id": new_id("mem"),
                "user_id": user_id,
                "email": None,
                "whop_user_id": None,
                "whop_plan_id": f"plan_{plan}",
                "plan": plan,
                "status": "active",
                "active": True,
                "cancel_at_period_end": False,
                "renewal_period_start": now - timedelta(seconds=1) if renewed_now else None,
                "renewal_period_end": now + timedelta(days=30) if renewed_now else None,
                "source_updated_at": now,
            },
        )


def set_credits(user_id: str, allowance: int, topup: int | None = None) -> None:
    """Arrange a balance: the user's credit account for the current period (as their first
    submission opens it), then its allowance (and bought packs) set as given."""
    from chalicelib.billing import credits, plans
    from chalicelib.core.ids import utcnow

    ent = plans.entitlement(user_id, utcnow())
    credits.ensure(user_id, ent.period_start, ent.plan.monthly_credits_micros)
    db.execute(
        "UPDATE credit_accounts SET allowance_micros = %s, topup_micros = COALESCE(%s, topup_micros)"
        " WHERE user_id = %s",
        (allowance, topup, user_id),
    )


@pytest.fixture
def doomed_redis(monkeypatch):
    """A real Redis of our own that the test stops, with the app (every Redis user: the client,
    the queue) pointed at it."""
    from chalicelib.infra import queue

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # wait for the server's own "ready" line, not a sleep
        if "Ready to accept connections" in line:
            break
    monkeypatch.setattr(get_settings(), "redis_url", f"redis://127.0.0.1:{port}/0")
    redis_client.reset()
    queue.reset()
    yield proc
    proc.kill()
    proc.wait()
    monkeypatch.undo()
    redis_client.reset()
    queue.reset()


class RedisCluster(NamedTuple):
    url: str  # one node's; the client discovers the others
    ports: list[int]
    pids: list[int]  # each node's server process, by port order


@contextmanager
def running_redis_cluster(folder: Path, *options: str) -> Iterator[RedisCluster]:
    """A local cluster-mode Redis like ElastiCache Serverless: three masters on loopback, no
    replicas, in `folder`, with redis-server `options`; stopped and removed at the end."""
    import redis

    from tests.workers import wait_until

    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server and redis-cli are not installed")
    ports = [free_port() for _ in range(3)]
    procs = []
    try:
        for port in ports:
            # The bus port is named too: the default (port + 10000) overflows for high free ports.
            proc = subprocess.Popen(
                [server, "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes",
                 "--cluster-port", str(free_port()),
                 "--cluster-config-file", f"nodes-{port}.conf", "--dir", str(folder),
                 "--save", "", "--appendonly", "no", *options],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            procs.append(proc)
            for line in proc.stdout or ():  # the server's own "ready" line, not a sleep
                if "Ready to accept connections" in line:
                    break
            threading.Thread(target=proc.communicate, daemon=True).start()  # keep its pipe drained
        nodes = [f"127.0.0.1:{port}" for port in ports]
        created = subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert created.returncode == 0, f"redis-cli --cluster create: {created.stdout}{created.stderr}"
        clients = [redis.Redis(port=port, decode_responses=True) for port in ports]
        wait_until(
            lambda: all("cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients),
            30, "every node's `cluster info` saying cluster_state:ok",
        )  # fmt: skip
        for c in clients:
            c.close()
        yield RedisCluster(f"redis://127.0.0.1:{ports[0]}/0", ports, [proc.pid for proc in procs])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> Iterator[RedisCluster]:
    """The session's cluster-mode Redis (running_redis_cluster), shared by its Redis tests."""
    with running_redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


def point_redis_at(monkeypatch, url: str, cluster: bool) -> None:
    """Every Redis user here (and the processes a test starts) on `url` from now on."""
    from chalicelib.infra import queue

    settings = get_settings()
    for name, value in (("redis_url", url), ("redis_cluster", cluster)):
        monkeypatch.setattr(settings, name, value)
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("REDIS_CLUSTER", "1" if cluster else "0")
    redis_client.reset()
    queue.reset()


@pytest.fixture(params=["standalone", "cluster"])
def redis_mode(request, monkeypatch) -> Iterator[str]:
    """Run the test against the suite's standalone Redis and again against a cluster-mode one,
    so a cross-slot command fails here rather than on ElastiCache. Use it for Redis-backed tests:
    `pytestmark = pytest.mark.usefixtures("redis_mode")`."""
    from chalicelib.infra import queue

    if request.param == "standalone":
        yield request.param
        return
    point_redis_at(monkeypatch, request.getfixturevalue("redis_cluster").url, cluster=True)
    yield request.param
    queue.reset()
    monkeypatch.undo()
    redis_client.reset()
