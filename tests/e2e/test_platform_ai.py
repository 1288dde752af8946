"""Platform AI tried as a new user would (issue 25), over HTTP against `chalice local` and a
worker process, with a fake OpenAI-compatible server as the operator's own account: a pro user
with no key of their own sees the estimate, submits, gets network images and speech, and sees
the job's cost and their remaining credits; a user's own key costs them no credits."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from chalicelib.infra import aws
from tests.conftest import grant_plan, local_stack
from tests.e2e.test_end_to_end import follow, signed_up
from tests.fakes.openai_server import FakeOpenAI

JOB = {"prompt": "Why lighthouses still matter", "duration_s": 6, "aspect": "9:16"}
PLATFORM_KEY = f"sk-platform-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def platform():
    with FakeOpenAI(api_key=PLATFORM_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(platform, tmp_path_factory):
    prefix = f"e2e-{secrets.token_hex(4)}/platform/"
    sm = aws.client("secretsmanager")
    secret = sm.create_secret(
        Name=f"{prefix}openai",
        SecretString=json.dumps({"api_key": PLATFORM_KEY, "base_url": platform.base_url}),
    )
    env = {
        "QUEUE_NAME": os.environ["QUEUE_NAME"] + "-platform",
        "WORKER_CONCURRENCY": "1",
        "PLATFORM_PROVIDERS": '["openai"]',
        "PLATFORM_SECRET_PREFIX": prefix,
    }
    try:
        with local_stack(tmp_path_factory.mktemp("platform-stack-logs"), env) as stack:
            yield stack
    finally:
        sm.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


@contextmanager
def pro_client(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)
        grant_plan(client.get("/v1/me").json()["id"], "pro")
        yield client


def test_a_pro_user_without_a_key_gets_network_media_on_the_platform_and_sees_its_cost(stack, platform):
    with pro_client(stack) as client:
        before = client.get("/v1/me").json()["credits"]
        assert before["available_micros"] == before["monthly_micros"] == 10_000_000

        estimate = client.post("/v1/jobs/estimate", json=JOB).json()
        assert {s["account"] for s in estimate["steps"]} == {"platform"} and estimate["fits"]

        submitted = client.post("/v1/jobs", json=JOB)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        assert submitted.json()["cost"]["held_micros"] == estimate["credits_micros"]
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])

        steps = {s["name"]: s for s in job["steps"]}
        assert steps["concept"]["provider"] == "openai" and steps["image"]["provider"] == "openai"
        records = [u for s in job["steps"] for u in s["usage"]]
        network = [u for u in records if u["provider"] == "openai"]
        assert {u["purpose"] for u in network} == {"concept", "image", "narration"}
        assert all(u["account"] == "platform" and u["cost_micros"] > 0 for u in network)
        images = next(u for u in network if u["purpose"] == "image")
        assert images["model"] == "gpt-image-1" and images["variant"] == "1024x1536:medium"

        cost = job["cost"]
        assert 0 < cost["charged_micros"] == cost["platform_micros"] <= cost["estimate_micros"]
        assert cost["held_micros"] == 0 and cost["own_micros"] == 0
        after = client.get("/v1/me").json()["credits"]
        assert after["allowance_micros"] == 10_000_000 - cost["charged_micros"]
        assert after["reserved_micros"] == 0
        assert {c["authorization"] for c in platform.requests} == {f"Bearer {PLATFORM_KEY}"}
        assert all(
            c["body"].get("model") in ("gpt-4o-mini", "gpt-image-1", "tts-1", "whisper-1")
            for c in platform.requests
        )
        spent = client.get("/v1/me").json()["usage"]["providers"]
        assert sum(p["platform_micros"] for p in spent) == cost["charged_micros"]


def test_a_users_own_key_is_used_first_and_costs_no_credits(stack, platform):
    with pro_client(stack) as client, FakeOpenAI(api_key="sk-own-key-0987654321") as own:
        stored = client.put(
            "/v1/provider-keys/openai", json={"api_key": "sk-own-key-0987654321", "base_url": own.base_url}
        )
        assert stored.status_code == 200, stored.text
        platform_calls = len(platform.requests)
        estimate = client.post("/v1/jobs/estimate", json=JOB).json()
        assert {s["account"] for s in estimate["steps"]} == {"own"} and estimate["credits_micros"] == 0

        job_id = client.post("/v1/jobs", json=JOB).json()["id"]
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        assert job["cost"]["charged_micros"] == 0 and job["cost"]["own_micros"] > 0
        assert client.get("/v1/me").json()["credits"]["allowance_micros"] == 10_000_000
        assert len(platform.requests) == platform_calls and own.calls("images/generations")
