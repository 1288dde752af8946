"""What a provider server says, and raw exception text, never reaches the user: job errors,
step errors, notes and events carry a stable code and our own words; details go to the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from types import SimpleNamespace

import pytest
from bullmq import UnrecoverableError

from chalicelib.core.settings import get_settings
from chalicelib.infra import db
from chalicelib.jobs import progress
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline import provider_chain
from chalicelib.runtime import worker
from tests.fakes.openai_server import FakeOpenAI

SECRET = "AKIAZ7SECRETLEAK42 password=hunter2-" + secrets.token_hex(4)


@pytest.fixture
def leaky(api, user, monkeypatch):
    """A provider whose error answers carry a secret-looking string; no in-call retries."""
    monkeypatch.setattr(get_settings(), "provider_max_retries", 0)
    with FakeOpenAI() as fake:
        fake.error_detail = f" (internal: {SECRET})"
        stored = api.call(
            "PUT",
            "/v1/provider-keys/openai",
            {"api_key": "sk-leaky-1234567890", "base_url": fake.base_url},
            token=user["token"],
        )
        assert stored.status_code == 200
        yield fake


def everything_the_user_sees(api, user, job_id: str) -> str:
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    events = api.call("GET", f"/v1/jobs/{job_id}/events", token=user["token"]).json
    runs = jobs_db.step_runs(job_id)
    return json.dumps([job, events, [(r.step, r.status, r.error_code, r.error_message) for r in runs]])


def submit(api, user, **providers) -> str:
    return api.submit_ok(
        user, {"prompt": "A quiet harbour", "duration_s": 5, "aspect": "1:1"}, providers=providers
    )


def run_last_attempt(job_id: str) -> None:
    job = SimpleNamespace(data={"job_id": job_id}, attemptsMade=2, opts={"attempts": 3})
    asyncio.run(worker.process(job, f"lease-{secrets.token_hex(6)}"))


@pytest.mark.parametrize("behaviour", ["500", "400"])
def test_a_failing_providers_words_stay_out_of_the_notes(api, user, leaky, behaviour, caplog):
    leaky.script("chat/completions", behaviour)
    task = provider_chain.Task(
        request={
            "prompt": "A quiet harbour",
            "duration_s": 5,
            "aspect": "1:1",
            "providers": {"concept": "openai"},
        },
        user_id=user["user"]["id"],
    )
    with caplog.at_level(logging.WARNING):
        outcome = provider_chain.run("concept", task)
    assert outcome.provider == "offline" and outcome.notes
    assert SECRET not in json.dumps(outcome.notes)
    assert any(n.startswith("concept: openai failed (provider_") for n in outcome.notes)
    assert SECRET in caplog.text  # the operator still sees what the server said


def test_a_rejected_key_fails_the_job_without_the_servers_words(api, user, leaky):
    leaky.script("chat/completions", "401")
    job_id = submit(api, user, concept="openai")
    with pytest.raises(UnrecoverableError) as caught:
        run_last_attempt(job_id)
    assert SECRET not in str(caught.value)
    seen = everything_the_user_sees(api, user, job_id)
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "failed" and job["error"]["code"] == "provider_key_rejected"
    assert job["error"]["message"] == ("the provider rejected your key (chat/completions answered 401)")
    assert SECRET not in seen and "hunter2" not in seen


def test_an_unexpected_exception_is_a_stable_code_and_a_safe_message(api, user, monkeypatch, caplog):
    def crash(purpose, task):
        raise RuntimeError(f"connection string mysql://admin:{SECRET}@db.internal/media")

    monkeypatch.setattr(provider_chain, "run", crash)
    job_id = submit(api, user)
    with caplog.at_level(logging.ERROR), pytest.raises(UnrecoverableError):
        run_last_attempt(job_id)
    db.close()
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["error"] == {
        "code": "concept_failed",
        "step": "concept",
        "message": "the concept step failed unexpectedly",
    }
    assert SECRET not in everything_the_user_sees(api, user, job_id)
    assert SECRET in caplog.text
    assert [e.message for e in progress.read(job_id, None, 0) if e.message and SECRET in e.message] == []
