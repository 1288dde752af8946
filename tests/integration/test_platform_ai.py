"""Platform AI (issue 25) in the API and the worker's provider chain: what plans include, the
estimate, credits reserved and settled exactly, the user's own key first, and the operator's
money kept safe (a job's credits, daily ceilings, unpriced models). Real MySQL, Redis and
Secrets Manager on the emulator; the platform's OpenAI account is a local fake server."""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from chalicelib.billing import credits, plans
from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, db
from chalicelib.jobs import lifecycle
from chalicelib.pipeline import platform_accounts, provider_chain, providers
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.runtime import launcher
from tests.conftest import free_port, grant_plan, set_credits
from tests.fakes.openai_server import FakeOpenAI

PROMPT = "Why lighthouses still matter"
JOB = {"prompt": PROMPT, "duration_s": 10, "aspect": "9:16"}


@pytest.fixture
def platform(monkeypatch):
    """The operator's OpenAI account: a fake server behind a secret of this test's own."""
    key = f"sk-platform-{secrets.token_hex(8)}"
    prefix = f"test-{secrets.token_hex(4)}/platform/"
    settings = get_settings()
    monkeypatch.setattr(settings, "platform_providers", ["openai"])
    monkeypatch.setattr(settings, "platform_secret_prefix", prefix)
    sm = aws.client("secretsmanager")
    with FakeOpenAI(api_key=key) as fake:
        sm.create_secret(
            Name=f"{prefix}openai", SecretString=json.dumps({"api_key": key, "base_url": fake.base_url})
        )
        platform_accounts.forget()
        fake.key, fake.secret = key, f"{prefix}openai"
        yield fake
        sm.delete_secret(SecretId=fake.secret, ForceDeleteWithoutRecovery=True)
        platform_accounts.forget()


def pro(api) -> dict:
    user = api.signup()
    grant_plan(user["user"]["id"], "pro")
    return user


def test_plans_say_what_ai_they_include_and_their_credits(api, user):
    listed = {p["name"]: p for p in api.call("GET", "/v1/plans", token=user["token"]).json["items"]}
    assert listed["free"]["monthly_credits_micros"] == plans.DEFAULT_PLANS["free"].monthly_credits_micros
    assert listed["pro"]["ai"]["image"] == {"provider": "openai", "model": "gpt-image-1", "quality": "medium"}
    assert listed["business"]["ai"]["narration"] == {
        "provider": "elevenlabs",
        "model": "eleven_multilingual_v2",
        "quality": None,
    }
    assert "image" not in listed["free"]["ai"]


def test_the_catalog_says_what_the_callers_plan_includes_per_step(api, platform):
    def included(user: dict) -> dict:
        items = api.call("GET", "/v1/providers", token=user["token"]).json["items"]
        return {item["step"]: item["included"] for item in items}

    steps = included(pro(api))
    assert steps["image"] == {
        "provider": "openai",
        "model": "gpt-image-1",
        "quality": "medium",
        "available": True,
    }
    assert steps["narration"]["model"] == "tts-1"
    assert steps["video"]["provider"] == "fal" and "image-to-video" in steps["video"]["model"]
    free = included(api.signup())
    assert free["concept"]["model"] == "gpt-4o-mini" and free["image"] is None


def test_what_a_plan_includes_is_unavailable_until_the_operator_configures_it(api):
    items = api.call("GET", "/v1/providers", token=pro(api)["token"]).json["items"]
    assert {item["step"]: item["included"]["available"] for item in items if item["included"]} == {
        "concept": False,
        "image": False,
        "narration": False,
        "video": False,
    }


def test_the_estimate_prices_the_plans_ai_and_creates_nothing(api, platform):
    user = pro(api)
    reply = api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"])
    assert reply.status_code == 200, reply.body
    estimate = reply.json
    steps = {s["purpose"]: s for s in estimate["steps"]}
    assert {s["account"] for s in steps.values()} == {"platform"}
    assert steps["image"]["model"] == "gpt-image-1" and steps["narration"]["model"] == "tts-1"
    # 3 scenes at 1024x1536 medium: 63 000 micro-dollars each
    assert steps["image"]["cost_micros"] == 3 * 63_000
    assert estimate["credits_micros"] == sum(s["cost_micros"] for s in steps.values())
    assert estimate["credits_available_micros"] == 10_000_000 and estimate["fits"] is True
    assert estimate["wall_s"] > 0 and estimate["plan"] == "pro"
    assert api.call("GET", "/v1/jobs", token=user["token"]).json["items"] == []
    assert platform.requests == []

    free = api.signup()
    steps = {
        s["purpose"]: s for s in api.call("POST", "/v1/jobs/estimate", JOB, token=free["token"]).json["steps"]
    }
    assert steps["concept"]["account"] == "platform" and steps["image"]["provider"] == "offline"


def test_without_the_operators_account_nothing_is_charged(api):
    user = pro(api)
    estimate = api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"]).json
    assert estimate["credits_micros"] == 0 and {s["provider"] for s in estimate["steps"]} == {"offline"}


def test_a_submission_that_does_not_fit_is_402_with_needed_and_available(api, platform):
    user = pro(api)
    need = api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"]).json["credits_micros"]
    set_credits(user["user"]["id"], need - 1, topup=0)
    refused = api.submit(user, JOB)
    assert refused.status_code == 402
    error = refused.json["error"]
    assert error["code"] == "credits_exhausted"
    assert error["details"]["needed"] == need and error["details"]["available"] == need - 1
    assert api.call("GET", "/v1/jobs", token=user["token"]).json["items"] == []
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["usage"]["jobs_used"] == 0 and me["credits"]["reserved_micros"] == 0


def test_twenty_parallel_submissions_accept_exactly_what_the_credits_cover(api, platform, tmp_path):
    user = pro(api)
    bodies = [JOB] * 20  # one estimate for all (no Idempotency-Key: twenty jobs)
    need = api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"]).json["credits_micros"]
    set_credits(user["user"]["id"], 3 * need + need // 2, topup=0)
    port = free_port()
    env = {
        "PLATFORM_PROVIDERS": '["openai"]',
        "PLATFORM_SECRET_PREFIX": get_settings().platform_secret_prefix,
        "QUEUE_NAME": f"credits-race-{secrets.token_hex(4)}",  # no worker takes these jobs
    }
    proc = launcher.spawn(launcher.api_command(port), tmp_path / "api.log", env)
    try:
        url = f"http://127.0.0.1:{port}"
        launcher.wait_http(f"{url}/v1/health")
        with httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {user['token']}"}
        ) as client:
            with ThreadPoolExecutor(max_workers=20) as pool:
                replies = list(pool.map(lambda body: client.post("/v1/jobs", json=body), bodies))
            assert sorted(r.status_code for r in replies) == [202] * 3 + [402] * 17
            assert {r.json()["error"]["code"] for r in replies if r.status_code == 402} == {
                "credits_exhausted"
            }
            held = client.get("/v1/me").json()["credits"]
            assert held["reserved_micros"] == 3 * need and held["available_micros"] == need // 2
    finally:
        launcher.stop(proc.pid)


def test_cancel_releases_the_reservation_and_charges_only_what_was_spent(api, platform):
    user = pro(api)
    job_id = api.submit_ok(user, JOB)
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["cost"]["held_micros"] == job["cost"]["estimate_micros"] > 0
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["cost"]["held_micros"] == 0 and job["cost"]["charged_micros"] == 0
    me = api.call("GET", "/v1/me", token=user["token"]).json["credits"]
    assert me["reserved_micros"] == 0 and me["allowance_micros"] == 10_000_000


def _spend(job_id: str, micros: int) -> None:
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO provider_usage (user_id, job_id, step, purpose, provider, model, cost_micros,"
            " account, created_at) SELECT user_id, id, 'image', 'image', 'openai', 'gpt-image-1', %s,"
            " 'platform', NOW(6) FROM jobs WHERE id = %s",
            (micros, job_id),
        )


def test_settling_charges_the_allowance_first_then_the_packs_and_never_past_the_hold(api, platform):
    user = pro(api)
    job_id = api.submit_ok(user, JOB)
    held = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json["cost"]["held_micros"]
    set_credits(user["user"]["id"], 1_000, topup=held)  # what it holds now comes mostly from the packs
    _spend(job_id, held + 5_000)  # a provider that billed over the bound is charged the bound
    assert lifecycle.fail(job_id, "invalid_input", "the user's own fault", "image")  # charged
    balance = credits.balance(user["user"]["id"])
    assert balance.reserved_micros == 0 and balance.allowance_micros == 0
    assert balance.topup_micros == 1_000  # held - 1 000 came from the packs
    assert api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json["cost"]["charged_micros"] == held


def test_a_failure_of_ours_charges_nothing_and_the_retry_pays_once(api, platform):
    user = pro(api)
    job_id = api.submit_ok(user, JOB)
    _spend(job_id, 20_000)
    assert lifecycle.fail(job_id, "video_failed", "ffmpeg crashed", "video")
    assert credits.balance(user["user"]["id"]).allowance_micros == 10_000_000
    assert api.call("POST", f"/v1/jobs/{job_id}/retry", token=user["token"]).status_code == 202
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    assert credits.balance(user["user"]["id"]).allowance_micros == 10_000_000 - 20_000
    cost = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json["cost"]
    assert cost["charged_micros"] == 20_000 and cost["platform_micros"] == 0  # spend not on a step record


# ---- the worker's chain ---------------------------------------------------------------------
def task(user: dict, plan: str = "pro", claim=lambda upper: None) -> provider_chain.Task:
    request = {**JOB, "style": None}
    return provider_chain.Task(
        request=request,
        user_id=user["user"]["id"],
        plan=plan,
        claim=claim,
        concept=write_concept(PROMPT, JOB["duration_s"]),
    )


def test_a_pro_user_without_a_key_gets_the_plans_model_on_the_platforms_account(api, platform):
    user = pro(api)
    outcome = provider_chain.run("concept", task(user))
    assert outcome.provider == "openai"
    (usage,) = outcome.usage
    assert usage.account == "platform" and usage.model == "gpt-4o-mini" and usage.cost_micros > 0
    (call,) = platform.calls("chat/completions")
    assert call["authorization"] == f"Bearer {platform.key}" and call["body"]["model"] == "gpt-4o-mini"


def test_the_users_own_key_wins_and_costs_no_credits(api, platform):
    user = pro(api)
    with FakeOpenAI(api_key="sk-own-key-1234567890") as own:
        stored = api.call(
            "PUT",
            "/v1/provider-keys/openai",
            {"api_key": "sk-own-key-1234567890", "base_url": own.base_url},
            token=user["token"],
        )
        assert stored.status_code == 200
        outcome = provider_chain.run(
            "concept", task(user, claim=lambda upper: pytest.fail("no claim on own key"))
        )
        assert outcome.usage[0].account == "own" and len(own.calls("chat/completions")) == 1
    assert platform.requests == []


def test_a_call_the_jobs_credits_do_not_cover_falls_back_with_a_note(api, platform):
    user = pro(api)
    outcome = provider_chain.run("concept", task(user, claim=lambda upper: 10))
    assert outcome.provider == "offline" and platform.requests == []
    assert any("credits" in note and "do not cover" in note for note in outcome.notes)


def test_the_daily_ceiling_falls_back_with_a_note(api, platform, monkeypatch):
    monkeypatch.setattr(get_settings(), "user_daily_ceiling_micros", 1)
    outcome = provider_chain.run("concept", task(pro(api)))
    assert outcome.provider == "offline" and platform.requests == []
    assert any("ceiling" in note for note in outcome.notes)


def test_a_model_without_a_price_is_never_called_on_the_platforms_account(api, platform, monkeypatch):
    table = plans.plan_table()
    monkeypatch.setitem(
        table,
        "pro",
        table["pro"].model_copy(
            update={"ai": {"concept": plans.AITier(provider="openai", model="unpriced-9")}}
        ),
    )
    outcome = provider_chain.run("concept", task(pro(api)))
    assert outcome.provider == "offline" and platform.requests == []
    assert any("has no price" in note for note in outcome.notes)


def test_a_rotated_platform_key_is_used_without_a_redeploy(api, platform, monkeypatch):
    monkeypatch.setattr(get_settings(), "platform_key_cache_s", 0.0)
    user = pro(api)
    rotated = f"sk-rotated-{secrets.token_hex(6)}"
    aws.client("secretsmanager").put_secret_value(
        SecretId=platform.secret, SecretString=json.dumps({"api_key": rotated, "base_url": platform.base_url})
    )
    platform.api_key = rotated
    provider_chain.run("concept", task(user))
    assert platform.calls("chat/completions")[-1]["authorization"] == f"Bearer {rotated}"


def test_an_upgrade_within_the_period_adds_the_bigger_allowance_once(api):
    user = api.signup()
    assert api.call("GET", "/v1/me", token=user["token"]).json["credits"]["allowance_micros"] == 50_000
    set_credits(user["user"]["id"], 20_000)  # the free period's account, some of it spent
    grant_plan(user["user"]["id"], "pro")
    for _ in range(2):  # read twice: granted once
        credits_now = api.call("GET", "/v1/me", token=user["token"]).json["credits"]
        assert credits_now["allowance_micros"] == 20_000 + 10_000_000 - 50_000


def test_ai_motion_is_estimated_on_the_plans_image_to_video_model(api, platform, monkeypatch):
    monkeypatch.setattr(get_settings(), "platform_providers", ["openai", "fal"])
    user = pro(api)
    for motion, clips in (("ai", 3), (["none", "ai"], 1)):  # 10 s: three scenes (at least 3)
        reply = api.call("POST", "/v1/jobs/estimate", {**JOB, "motion": motion}, token=user["token"])
        assert reply.status_code == 200, reply.body
        video = next(s for s in reply.json["steps"] if s["purpose"] == "video")
        assert (video["provider"], video["account"]) == ("fal", "platform")
        assert video["model"] == plans.KLING.model
        assert video["cost_micros"] == clips * 10 * 56_000  # the longest clip (10 s) a scene may get
    plain = api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"]).json
    assert "video" not in {s["purpose"] for s in plain["steps"]}
    too_many = api.call("POST", "/v1/jobs/estimate", {**JOB, "motion": ["ai"] * 4}, token=user["token"])
    assert too_many.status_code == 422 and too_many.json["error"]["details"][0]["field"] == "motion"


def test_a_voice_or_provider_the_job_names_runs_on_the_platform_for_an_included_purpose(
    api, platform, monkeypatch
):
    tiers = plans.plan_named("pro").ai
    voiced = {"voice": "elevenlabs:aria"}
    first = providers.choose("narration", voiced, tiers, platform=["openai", "elevenlabs"])[0]
    assert (first.provider, first.account, first.model) == ("elevenlabs", "platform", None)
    first = providers.choose("narration", voiced, tiers, platform=["openai"])[0]
    assert (first.provider, first.account, first.model) == ("openai", "platform", "tts-1")
    free = plans.plan_named("free").ai  # no narration included: the voice needs the user's key
    assert providers.choose("narration", voiced, free, platform=["elevenlabs"])[0].provider == "offline"

    user = pro(api)
    body = {**JOB, "providers": {"narration": "elevenlabs"}}
    refused = api.call("POST", "/v1/jobs/estimate", body, token=user["token"])
    assert refused.status_code == 422 and refused.json["error"]["code"] == "provider_key_missing"
    monkeypatch.setattr(get_settings(), "platform_providers", ["openai", "elevenlabs"])
    reply = api.call("POST", "/v1/jobs/estimate", body, token=user["token"])
    assert reply.status_code == 200, reply.body
    narration = next(s for s in reply.json["steps"] if s["purpose"] == "narration")
    assert (narration["provider"], narration["account"]) == ("elevenlabs", "platform")
    assert narration["cost_micros"] > 0


def test_reading_me_and_an_estimate_write_no_credit_account(api, platform):
    user = pro(api)
    shown = api.call("GET", "/v1/me", token=user["token"]).json["credits"]
    assert shown["allowance_micros"] == shown["available_micros"] == 10_000_000
    assert api.call("POST", "/v1/jobs/estimate", JOB, token=user["token"]).json["fits"] is True
    assert credits.balance(user["user"]["id"]) is None  # the first submission opens the account
    assert api.call("POST", "/v1/jobs", JOB, token=user["token"]).status_code == 202
    assert credits.balance(user["user"]["id"]).reserved_micros > 0
