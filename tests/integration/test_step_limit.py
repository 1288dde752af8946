"""A step's maximum run time is enforced by the worker itself (STEP_MAX_S): a step stuck on a
provider that trickles bytes fails with `step_timeout` instead of holding the worker slot."""

from __future__ import annotations

import asyncio
import secrets
from types import SimpleNamespace

import pytest
from bullmq import UnrecoverableError

from chalicelib.core.settings import get_settings
from chalicelib.jobs import repository as jobs_db
from chalicelib.runtime import worker
from tests.fakes.hostile_server import HostileServer


@pytest.fixture
def short_steps(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "step_max_s", 1.5)
    monkeypatch.setattr(settings, "provider_timeout_s", 30.0)  # longer than the step may run
    monkeypatch.setattr(settings, "provider_max_retries", 0)


def test_a_step_past_its_limit_fails_the_job_with_step_timeout(api, user, short_steps):
    with HostileServer("trickle") as server:
        stored = api.call(
            "PUT",
            "/v1/provider-keys/openai",
            {"api_key": "sk-trickle-12345678", "base_url": server.url},
            token=user["token"],
        )
        assert stored.status_code == 200, stored.body
        job_id = api.call(
            "POST",
            "/v1/jobs",
            {"prompt": "A slow answer", "duration_s": 5, "providers": {"concept": "openai"}},
            token=user["token"],
        ).json["id"]
        last_attempt = SimpleNamespace(data={"job_id": job_id}, attemptsMade=2, opts={"attempts": 3})
        with pytest.raises(UnrecoverableError, match="step_timeout"):
            asyncio.run(worker.process(last_attempt, f"lease-{secrets.token_hex(6)}"))
        assert server.bytes_sent > 0  # the provider was still sending when the step was cut
    row = jobs_db.get(job_id, None)
    assert (row.status, row.error_code, row.error_step) == ("failed", "step_timeout", "concept")
    concept = next(r for r in jobs_db.step_runs(job_id) if r.step == "concept")
    assert concept.status == "failed" and concept.error_code == "step_timeout"


def test_a_transient_step_timeout_before_the_last_attempt_is_retried(api, user, short_steps):
    with HostileServer("trickle") as server:
        api.call(
            "PUT",
            "/v1/provider-keys/openai",
            {"api_key": "sk-trickle-12345678", "base_url": server.url},
            token=user["token"],
        )
        job_id = api.call(
            "POST",
            "/v1/jobs",
            {"prompt": "A slow answer", "duration_s": 5, "providers": {"concept": "openai"}},
            token=user["token"],
        ).json["id"]
        first_attempt = SimpleNamespace(data={"job_id": job_id}, attemptsMade=0, opts={"attempts": 3})
        with pytest.raises(Exception) as caught:
            asyncio.run(worker.process(first_attempt, f"lease-{secrets.token_hex(6)}"))
        assert getattr(caught.value, "code", None) == "step_timeout"
    row = jobs_db.get(job_id, None)
    assert (row.status, row.attempt, row.error_code) == ("queued", 2, "step_timeout")
