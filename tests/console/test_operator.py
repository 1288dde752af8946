"""The operator's console in Chromium (issue 28), tried as a new operator would: the role granted
with the documented command, a login, the overview showing today's jobs and the queue, a failed
job found by its customer's email and redriven with one click; every operator page passes axe
and is screenshotted under out/console/. A customer sees none of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chalicelib.accounts import users
from chalicelib.billing import usage
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.jobs import lifecycle
from chalicelib.runtime import ops
from tests.conftest import Api
from tests.console.conftest import api_client, check_accessibility, shot


@pytest.fixture(scope="module")
def in_process():
    """The app in this process: its jobs go to this session's queue, which the console's worker
    does not read, so a job stays where the test puts it until the browser redrives it."""
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        yield Api(client.http)


def _failed_job(api: Api, customer: dict, code: str) -> str:
    job_id = api.submit_ok(customer)
    assert lifecycle.start(job_id, customer["user"]["id"], 10, "test-worker:1", 60).value == "started"
    assert lifecycle.step_started(job_id, "image", "test-worker:1", 10)
    message = f"{code}: the image provider failed"
    assert lifecycle.step_failed(job_id, "image", "test-worker:1", code, message, "the upstream's raw answer")
    assert lifecycle.fail(job_id, code, message, "image")
    return job_id


def _log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(jobs|new)$"))


def _settled(page, heading: str) -> None:
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    page.wait_for_selector("[role=status]:has-text('Loading')", state="detached")


def test_an_operator_finds_a_failed_job_by_email_and_redrives_it(page, console, in_process):
    customer = in_process.signup()
    job_id = _failed_job(in_process, customer, "provider_error")
    _failed_job(in_process, customer, "render_error")  # a second one for the dead letter page
    with db.transaction() as cur:
        usage.record(
            cur,
            job_id,
            "image",
            [
                {
                    "purpose": "image",
                    "provider": "openai",
                    "model": "gpt-image-1",
                    "tokens_in": 0,
                    "tokens_out": 0,
                    "characters": 0,
                    "images": 1,
                    "audio_s": 0.0,
                    "bytes": 1000,
                    "wall_s": 2.5,
                }
            ],
            utcnow(),
        )
    operator = in_process.signup()
    assert ops.main(["grant-operator", operator["email"]]) == 0
    _log_in(page, operator["email"], operator["password"])

    operator_nav = page.get_by_role("navigation", name="Operator")
    operator_nav.get_by_role("link", name="Overview").click()
    _settled(page, "Operator overview")
    expect(page.locator("[data-stat=today]")).not_to_have_text("0")
    expect(page.locator("[data-stat=depth]")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Jobs per day by status"))).to_be_visible()
    check_accessibility(page, "admin overview")
    shot(page, "admin-overview")

    operator_nav.get_by_role("link", name="Customers").click()
    _settled(page, "Customers")
    page.get_by_label("Email starts with").fill(customer["email"])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    check_accessibility(page, "admin customers")
    shot(page, "admin-customers")
    page.get_by_role("link", name=customer["email"]).click()
    _settled(page, customer["email"])
    expect(page.locator(f"tr[data-job-id='{job_id}']")).to_contain_text("provider_error")
    expect(page.locator("[data-stat=credits]")).to_have_text(re.compile(r"^\$"))
    check_accessibility(page, "admin customer")
    shot(page, "admin-customer")

    page.get_by_role("link", name=job_id).click()
    _settled(page, f"Job {job_id}")
    expect(page.get_by_text("provider_error: the image provider failed").first).to_be_visible()
    expect(page.locator("[data-detail=internal]")).to_have_text("the upstream's raw answer")
    check_accessibility(page, "admin job")
    shot(page, "admin-job")
    page.get_by_role("button", name="Redrive").click()
    expect(page.get_by_role("status").filter(has_text="Redriven")).to_be_visible()
    job = api_client(console, customer["token"]).get(f"/v1/jobs/{job_id}").json()
    assert job["attempt"] == 2 and job["status"] in ("queued", "running", "succeeded")

    operator_nav.get_by_role("link", name="Dead letter").click()
    _settled(page, "Dead letter")
    expect(page.get_by_role("button", name=re.compile("^Redrive job_"))).not_to_have_count(0)
    check_accessibility(page, "admin dead letter")
    shot(page, "admin-dead-letter")

    operator_nav.get_by_role("link", name="Spend").click()
    _settled(page, "Spend")
    expect(page.locator("tr[data-provider=openai][data-plan=free]").first).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile("Platform spend in dollars per day by provider"))
    ).to_be_visible()
    page.get_by_label("plan").check()
    expect(page.get_by_role("img", name=re.compile("by plan"))).to_be_visible()
    check_accessibility(page, "admin spend")
    shot(page, "admin-spend")

    # another operator, granted and revoked from the console, each in the audit log under who did it
    colleague = in_process.signup()
    operator_nav.get_by_role("link", name="Operators").click()
    _settled(page, "Operators")
    expect(page.locator("tbody tr", has_text=operator["email"])).to_contain_text("you")
    page.get_by_label("Account email").fill(colleague["email"])
    page.get_by_role("button", name="Grant operator role").click()
    expect(page.get_by_role("status").filter(has_text="is an operator")).to_be_visible()
    check_accessibility(page, "admin operators")
    shot(page, "admin-operators")
    assert users.by_id(colleague["user"]["id"]).role == users.OPERATOR
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke {colleague['email']}").click()
    expect(page.get_by_role("status").filter(has_text="no longer an operator")).to_be_visible()
    assert users.by_id(colleague["user"]["id"]).role == users.CUSTOMER
    audit = db.fetch_all(
        "SELECT action, user_id FROM audit_log WHERE target = %s ORDER BY id", (colleague["user"]["id"],)
    )
    granted = [(a["action"], a["user_id"]) for a in audit if a["action"].startswith("operator.")]
    assert granted == [
        ("operator.granted", operator["user"]["id"]),
        ("operator.revoked", operator["user"]["id"]),
    ]

    operator_nav.get_by_role("link", name="Job inspector").click()
    _settled(page, "Job inspector")
    check_accessibility(page, "admin job lookup")


def test_a_customer_sees_no_operator_page_and_gets_403(page, console, in_process):
    customer = in_process.signup()
    _log_in(page, customer["email"], customer["password"])
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("navigation", name="Operator")).to_have_count(0)
    page.goto("/admin")
    _settled(page, "Page not found")
    reply = api_client(console, customer["token"]).get("/v1/admin/overview")
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "forbidden"
