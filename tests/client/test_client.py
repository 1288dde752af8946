"""The Python client against the running API, route by route, with the typed errors."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from mo_client import Client, errors
from mo_client.client import UploadRejected

from chalicelib.billing.plans import entitlement
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.runtime import launcher
from tests.client.conftest import PASSWORD, png
from tests.conftest import free_port
from tests.fakes.whop_server import FakeWhop
from tests.mailbox import last_link


def test_signup_login_and_me(stack):
    email = f"client-{secrets.token_hex(6)}@example.com"
    with Client(stack.url) as mo:
        signed = mo.signup(email, PASSWORD)
        assert signed.user.email == email and mo.token == signed.access_token
        with pytest.raises(errors.Unauthorized) as taken:  # signup says nothing; the login fails
            mo.signup(email, "someone else's password")
        assert taken.value.code == "invalid_credentials"
        with pytest.raises(errors.Unauthorized) as wrong:
            mo.login(email, "not the password at all")
        assert wrong.value.code == "invalid_credentials"

        logged = mo.login(email, PASSWORD)
        me = mo.me()
        assert mo.token == logged.access_token
        assert (me.email, me.plan.name, me.usage.jobs_used) == (email, "free", 0)

    with Client(stack.url) as anonymous, pytest.raises(errors.Unauthorized):
        anonymous.me()


def test_email_verification_and_password_reset(stack):
    email = f"links-{secrets.token_hex(6)}@example.com"
    with Client(stack.url) as mo:
        assert mo.signup(email, PASSWORD).user.email_verified is False
        first_token = mo.token
        assert mo.resend_verification().accepted
        _, token = last_link(email, "/verify-email")
        assert mo.verify_email(token).user.email_verified and mo.me().email_verified
        with pytest.raises(errors.Gone) as reused:
            mo.verify_email(token)
        assert reused.value.code == "invalid_link"
        with pytest.raises(errors.Conflict):
            mo.resend_verification()

        assert mo.request_password_reset(email).accepted
        assert mo.request_password_reset(f"nobody-{secrets.token_hex(4)}@example.com").accepted
        _, reset = last_link(email, "/reset-password")
        renewed = mo.confirm_password_reset(reset, "a brand new password")
        assert mo.token == renewed.access_token and mo.me().email == email
        assert mo.login(email, "a brand new password").user.email == email
    with Client(stack.url, first_token) as old_session, pytest.raises(errors.Unauthorized):
        old_session.me()  # sessions from before the reset ended


def test_api_keys_work_until_deleted(stack, mo):
    created = mo.create_api_key("ci")
    assert created.key.startswith("ak_")
    assert [k.id for k in mo.iter_api_keys()] == [created.id]
    with Client(stack.url, created.key) as by_key:
        assert by_key.me().id == mo.me().id
        mo.delete_api_key(created.id)
        with pytest.raises(errors.Unauthorized):
            by_key.me()
    with pytest.raises(errors.NotFound):
        mo.delete_api_key(created.id)
    assert mo.list_api_keys().items == []


def test_provider_keys_and_the_catalog(mo):
    stored = mo.put_provider_key("openai", "sk-client-test-1234", "http://127.0.0.1:9/v1")
    assert (stored.provider, stored.last4) == ("openai", "1234")
    assert [k.provider for k in mo.list_provider_keys().items] == ["openai"]
    options = {o.name: o for step in mo.providers().items for o in step.providers}
    assert options["openai"].has_key and options["offline"].needs_key is False
    mo.delete_provider_key("openai")
    with pytest.raises(errors.NotFound):
        mo.delete_provider_key("openai")
    with pytest.raises(errors.ValidationFailed) as short:
        mo.put_provider_key("openai", "short")
    assert "api_key" in short.value.fields


def test_the_audit_log_pages(mo):
    mo.create_api_key("one")
    first = mo.audit_log(limit=1)
    assert len(first.items) == 1 and first.next_cursor
    actions = [entry.action for entry in mo.iter_audit_log()]
    assert "api_key.created" in actions and actions[-1] == "user.signup"


def test_upload_file_goes_through_the_presigned_form(mo, tmp_path):
    uploaded = mo.upload_file(png(tmp_path / "ref.png"))
    assert (uploaded.status, uploaded.content_type) == ("uploaded", "image/png")
    assert mo.get_upload(uploaded.id).size_bytes == (tmp_path / "ref.png").stat().st_size

    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a png at all" * 10)
    with pytest.raises(UploadRejected) as rejected:
        mo.upload_file(fake)
    assert rejected.value.upload.status == "rejected"
    with pytest.raises(errors.UnsupportedMediaType):
        mo.create_upload("a.exe", "application/x-msdownload", 10)
    with pytest.raises(errors.PayloadTooLarge):
        mo.create_upload("big.png", "image/png", 10**9)
    with pytest.raises(errors.NotFound):
        mo.get_upload("upl_nope")


def test_webhook_endpoints(mo):
    created = mo.create_webhook_endpoint("http://127.0.0.1:9/hook", ["job.succeeded"])
    assert created.secret.startswith("whsec_") and created.events == ["job.succeeded"]
    assert [e.id for e in mo.iter_webhook_endpoints()] == [created.id]
    mo.delete_webhook_endpoint(created.id)
    assert mo.list_webhook_endpoints().items == []
    with pytest.raises(errors.NotFound):
        mo.delete_webhook_endpoint(created.id)


def test_a_job_from_submit_to_download(mo, tmp_path):
    job = mo.submit("a paper boat sails to the moon", duration_s=5, aspect="1:1")
    assert job.status in ("queued", "running") and not job.replayed  # an idle worker may start it first

    events = list(mo.follow(job.id))
    assert events[0].type == "job.queued" and events[-1].type == "job.succeeded"
    assert {"step.started", "step.succeeded"} <= {e.type for e in events}
    # Reconnecting with Last-Event-ID resumes right after that event, nothing twice.
    assert [e.id for e in mo.follow(job.id, after=events[2].id)] == [e.id for e in events[3:]]

    done = mo.get_job(job.id)
    assert done.status == "succeeded" and done.outputs is not None
    assert [s.status for s in done.steps] == ["succeeded"] * 4
    assert job.id in [j.id for j in mo.iter_jobs(status="succeeded")]
    assert mo.list_jobs(status="failed").items == []

    files = mo.download(done, tmp_path)
    assert files.video == tmp_path / f"{job.id}.mp4"
    assert files.video.read_bytes()[4:8] == b"ftyp"
    assert "-->" in files.captions.read_text()
    with pytest.raises(errors.InvalidState):
        mo.cancel(job.id)
    with pytest.raises(errors.Conflict):
        mo.retry(job.id)


def test_submit_is_idempotent(mo):
    first = mo.submit("a lighthouse at dawn", duration_s=5, idempotency_key="same-key")
    again = mo.submit("a lighthouse at dawn", duration_s=5, idempotency_key="same-key")
    assert again.id == first.id and again.replayed
    with pytest.raises(errors.IdempotencyKeyReused):
        mo.submit("a different prompt", duration_s=5, idempotency_key="same-key")
    assert mo.cancel(first.id).status == "canceled"
    assert [e.type for e in mo.follow(first.id)][-1] == "job.canceled"

    resumed = mo.retry(first.id)
    assert resumed.id == first.id and resumed.status == "queued"
    mo.cancel(first.id)


def test_refusals_are_typed(stack, mo):
    with pytest.raises(errors.ValidationFailed) as invalid:
        mo.submit("too short a video", duration_s=1)
    assert "duration_s" in invalid.value.fields and invalid.value.status == 422
    with pytest.raises(errors.ValidationFailed):
        mo.submit("unknown field", no_such_field=1)
    with pytest.raises(errors.NotFound):
        mo.get_job("job_does_not_exist")
    with pytest.raises(errors.NotFound):
        mo.events("job_does_not_exist")

    with Client(stack.url) as free:
        user = free.signup(f"quota-{secrets.token_hex(6)}@example.com", PASSWORD).user
        ent = entitlement(user.id, utcnow())
        db.execute(
            "INSERT INTO quota_usage (user_id, period_start, used) VALUES (%s, %s, %s)",
            (user.id, ent.period_start, ent.plan.monthly_jobs),
        )  # arrange: quota used up
        with pytest.raises(errors.QuotaExceeded) as quota:
            free.submit("one too many", duration_s=5)
        assert quota.value.code == "quota_exceeded" and quota.value.details["limit"] == 5


def test_a_stream_token_opens_one_jobs_events(stack, mo):
    job = mo.submit("a quiet street at night", duration_s=5)
    mo.cancel(job.id)
    granted = mo.stream_token(job.id)
    assert granted.expires_in > 0
    page = httpx.get(f"{stack.url}/v1/jobs/{job.id}/events", params={"stream_token": granted.token})
    assert page.status_code == 200 and page.json()["status"] == "canceled"
    with pytest.raises(errors.NotFound):
        mo.stream_token("job_does_not_exist")


@pytest.fixture(scope="module")
def whop_api(tmp_path_factory):
    """An API whose Whop checkout talks to a local fake of Whop's API."""
    with FakeWhop(api_key="whop_app_key") as fake:
        port = free_port()
        proc = launcher.spawn(
            launcher.api_command(port),
            tmp_path_factory.mktemp("whop") / "api.log",
            {
                "WHOP_API_URL": fake.api_url,
                "WHOP_API_KEY": "whop_app_key",
                "WHOP_PLAN_MAP": '{"plan_pro": "pro", "plan_business": "business"}',
            },
        )
        try:
            launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
            yield f"http://127.0.0.1:{port}"
        finally:
            launcher.stop(proc.pid)


def test_plans_and_a_checkout_for_a_verified_user(whop_api):
    email = f"buyer-{secrets.token_hex(6)}@example.com"
    with Client(whop_api) as mo:
        mo.signup(email, PASSWORD)
        offers = {p.name: p for p in mo.plans().items}
        assert offers["pro"].purchasable and not offers["free"].purchasable
        assert offers["pro"].max_concurrency == 3
        with pytest.raises(errors.Conflict) as unverified:
            mo.checkout("pro")
        assert unverified.value.code == "email_not_verified"
        mo.verify_email(last_link(email, "/verify-email")[1])
        session = mo.checkout("pro")
        assert session.plan == "pro" and session.url.startswith("http://127.0.0.1:")
        with pytest.raises(errors.ValidationFailed):
            mo.checkout("platinum")


def test_health_and_the_document(stack):
    with Client(stack.url) as mo:
        assert mo.health().status == "ok"
        assert mo.openapi()["openapi"].startswith("3.1")


def test_an_unreachable_api_is_connection_failed():
    with (
        Client(f"http://127.0.0.1:{free_port()}", max_retries=1, sleep=lambda s: None) as mo,
        pytest.raises(errors.ConnectionFailed),
    ):
        mo.me()


@pytest.fixture(scope="module")
def tight_api(tmp_path_factory):
    """An API allowing two sign-ups per 6 seconds per address, to see 429 and Retry-After."""
    port = free_port()
    proc = launcher.spawn(
        launcher.api_command(port),
        tmp_path_factory.mktemp("tight") / "api.log",
        {"RATE_LIMIT_AUTH": "2/6 seconds"},
    )
    try:
        launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        launcher.stop(proc.pid)


def test_rate_limits_are_retried_after_retry_after(tight_api):
    def signup(client: Client):
        return client.signup(f"rl-{secrets.token_hex(6)}@example.com", PASSWORD)

    with Client(tight_api, max_retries=0) as impatient:
        signup(impatient), signup(impatient)
        with pytest.raises(errors.RateLimited) as limited:
            signup(impatient)
    assert 0 < limited.value.retry_after <= 6

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with Client(tight_api, sleep=sleep) as patient:
        emails = [signup(patient).user.email for _ in range(3)]  # the window holds two
    assert len(set(emails)) == 3
    assert waits and all(0 < w <= 6 for w in waits)
