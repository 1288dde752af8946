"""The client and `mo` against real processes: `chalice local` over HTTP and a worker on a queue
of their own, on the suite's database, Redis and S3 emulator."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from chalicelib import launcher
from mo_client import Client
from tests.conftest import free_port, grant_plan


class Stack(NamedTuple):
    url: str
    logs: Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("client-stack")
    port = free_port()
    env = {"QUEUE_NAME": os.environ["QUEUE_NAME"] + "-client", "WORKER_CONCURRENCY": "3"}
    api = launcher.spawn(launcher.api_command(port), logs / "api.log", env)
    worker = launcher.spawn(launcher.worker_command(), logs / "worker.log", env)
    try:
        launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
        yield Stack(f"http://127.0.0.1:{port}", logs)
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)


@pytest.fixture
def mo(stack) -> Iterator[Client]:
    """A client signed up as a fresh user on the business plan (quota for a batch)."""
    with Client(stack.url) as client:
        reply = client.signup(f"client-{secrets.token_hex(6)}@example.com", "correct horse battery")
        grant_plan(reply.user.id, "business")
        yield client


@pytest.fixture(scope="session")
def document(stack) -> dict:
    """The OpenAPI document as the running API serves it."""
    with Client(stack.url) as client:
        return client.openapi()
