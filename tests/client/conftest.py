"""The client and `mo` against real processes: `chalice local` over HTTP and a worker on a queue
of their own, on the suite's database, Redis and S3 emulator."""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mo_client import Client
from mo_client.cli import app
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import Stack, grant_plan, local_stack
from tests.mailbox import last_link

PASSWORD = "correct horse battery"
MO = Path(sys.executable).parent / "mo"  # the console script, for tests that need a real process


@pytest.fixture(scope="session")
def stack(tmp_path_factory, isolated_backends) -> Iterator[Stack]:
    env = {"QUEUE_NAME": os.environ["QUEUE_NAME"] + "-client", "WORKER_CONCURRENCY": "3"}
    with local_stack(tmp_path_factory.mktemp("client-stack"), env) as stack:
        yield stack


@pytest.fixture
def mo(stack) -> Iterator[Client]:
    """A client signed up as a fresh user on the business plan (quota for a batch)."""
    with Client(stack.url) as client:
        reply = client.signup(f"client-{secrets.token_hex(6)}@example.com", PASSWORD)
        client.verify_email(last_link(reply.user.email, "/verify-email")[1])  # may create credentials
        grant_plan(reply.user.id, "business")
        yield client


@pytest.fixture(scope="session")
def document(stack) -> dict:
    """The OpenAPI document as the running API serves it."""
    with Client(stack.url) as client:
        return client.openapi()


def png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def as_json(result) -> object:
    return json.loads(result.stdout)


@pytest.fixture
def cli(stack, tmp_path, monkeypatch):
    """Run `mo ...` in-process as a fresh user's terminal would: own config folder, cwd in tmp."""
    for name in ("MO_TOKEN", "MO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MO_API_URL", stack.url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None):
        result = runner.invoke(app, list(args), input=stdin)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def signed_up(cli, stack):
    """`mo signup`, then that user on the business plan (room for a few jobs at once)."""
    email = f"cli-{secrets.token_hex(6)}@example.com"
    cli("signup", "--email", email, "--password", PASSWORD)
    with Client(stack.url) as mo:
        grant_plan(mo.login(email, PASSWORD).user.id, "business")
        mo.verify_email(last_link(email, "/verify-email")[1])  # may create credentials
    return email
