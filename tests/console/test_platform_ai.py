"""Platform AI in the console (issue 25, "done when"): on a stack whose platform OpenAI account is
a local fake server (behind its Secrets Manager secret), a pro user without a key of their own
sees the estimate, submits, gets network images and speech, and sees the job's cost and their
remaining credits; a user short of credits is told so; a free user sees what an upgrade gives."""

from __future__ import annotations

import json
import os
import secrets
from typing import NamedTuple

import pytest
from playwright.sync_api import expect

from chalicelib.infra import aws
from tests.conftest import free_port, grant_plan, local_stack, set_credits
from tests.console.conftest import (
    DESKTOP,
    JOB_TIMEOUT_MS,
    _new_page,
    api_client,
    check_accessibility,
    progress_section,
    shot,
    sign_up,
    token_of,
)
from tests.fakes.openai_server import FakeOpenAI

PRO_CREDITS = "$10.00"


class PlatformStack(NamedTuple):
    url: str
    openai: FakeOpenAI


@pytest.fixture(scope="module")
def platform_stack(isolated_backends, tmp_path_factory):
    """The API and a worker of their own, with the operator's OpenAI account configured."""
    key, prefix = f"sk-platform-{secrets.token_hex(8)}", f"console-{secrets.token_hex(4)}/platform/"
    sm = aws.client("secretsmanager")
    port = free_port()
    with FakeOpenAI(api_key=key) as fake:
        sm.create_secret(
            Name=f"{prefix}openai", SecretString=json.dumps({"api_key": key, "base_url": fake.base_url})
        )
        env = {
            "QUEUE_NAME": os.environ["QUEUE_NAME"] + "-platform",
            "WORKER_CONCURRENCY": "1",
            "PLATFORM_PROVIDERS": '["openai"]',
            "PLATFORM_SECRET_PREFIX": prefix,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        try:
            with local_stack(tmp_path_factory.mktemp("platform-stack"), env, port) as stack:
                yield PlatformStack(stack.url, fake)
        finally:
            sm.delete_secret(SecretId=f"{prefix}openai", ForceDeleteWithoutRecovery=True)


@pytest.fixture
def page(browser, platform_stack):
    context, page = _new_page(browser, platform_stack, DESKTOP)
    yield page
    context.close()
    assert page.errors == [], page.errors


def dollars(micros: int) -> str:
    """As the console shows money (web/src/money.ts)."""
    if not micros:
        return "$0"
    value = micros / 1_000_000
    if value < 0.0001:
        return "<$0.0001"
    return f"${value:.{2 if value >= 0.1 or micros % 10_000 == 0 else 4}f}"


def pro_user(page, stack: PlatformStack) -> dict:
    sign_up(page)
    with api_client(stack, token_of(page)) as client:
        me = client.get("/v1/me").json()
    grant_plan(me["id"], "pro", renewed_now=True)  # bought now: a period of pro credits begins
    page.goto("/new")
    page.get_by_label("Prompt").wait_for()
    return me


def estimate_section(page):
    return page.get_by_role("region", name="Estimate")


def test_a_pro_user_sees_the_estimate_submits_and_sees_the_cost_and_credits_left(page, platform_stack):
    pro_user(page, platform_stack)
    expect(page.get_by_text("Included in your plan: openai gpt-image-1 (medium)")).to_be_visible()
    page.get_by_label("Prompt").fill("Why lighthouses still matter")
    page.get_by_label("Duration (seconds)").fill("5")
    estimate = estimate_section(page)
    for purpose in ("concept", "image", "narration"):
        row = estimate.locator(f"tr[data-purpose='{purpose}']")
        expect(row).to_have_attribute("data-account", "platform")
        expect(row).to_contain_text("included in your plan")
    expect(estimate.locator("tr[data-purpose='image']")).to_contain_text("openai gpt-image-1")
    summary = page.get_by_test_id("estimate-summary")
    expect(summary).to_contain_text(f"of your {PRO_CREDITS} credits")
    expect(summary).to_contain_text("ready in about")
    expect(estimate).to_have_attribute("data-fits", "true")
    expect(estimate).to_have_attribute("aria-busy", "false")
    check_accessibility(page, "new video (estimate)")
    shot(page, "new-video-estimate")
    reserves = summary.locator("strong").inner_text()

    page.get_by_role("button", name="Make the video").click()
    page.wait_for_url(lambda url: "/jobs/job_" in url)
    job_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("cost-estimate")).to_have_text(reserves)
    expect(progress_section(page)).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)

    with api_client(platform_stack, token_of(page)) as client:
        job = client.get(f"/v1/jobs/{job_id}").json()
        credits = client.get("/v1/me").json()["credits"]
    charged = job["cost"]["charged_micros"]
    assert 0 < charged <= job["cost"]["estimate_micros"]
    assert credits["available_micros"] == 10_000_000 - charged
    expect(page.get_by_test_id("cost-charged")).to_have_text(dollars(charged))
    expect(page.get_by_test_id("credits-left")).to_have_text(dollars(credits["available_micros"]))
    image = next(s for s in job["steps"] if s["name"] == "image")
    expect(page.get_by_test_id("step-cost-image")).to_have_text(
        f"{dollars(image['cost_micros'])}, included in your plan"
    )
    # Network images and speech, on the platform's key.
    assert platform_stack.openai.answered("images/generations")
    assert platform_stack.openai.answered("audio/speech")
    check_accessibility(page, "job (cost)")
    shot(page, "job-cost")

    page.goto("/billing")
    expect(page.get_by_test_id("credits-available")).to_have_text(dollars(credits["available_micros"]))
    expect(page.get_by_test_id("credits-allowance")).to_have_text(
        f"{dollars(credits['allowance_micros'])} of {PRO_CREDITS}"
    )
    expect(page.get_by_role("table", name="Spent this period")).to_contain_text("openai")
    check_accessibility(page, "billing (credits)")
    shot(page, "billing-credits")


def test_credits_that_do_not_cover_the_video_are_said_before_and_at_submission(page, platform_stack):
    me = pro_user(page, platform_stack)
    page.get_by_label("Prompt").fill("A paper boat sails to the moon")
    page.get_by_label("Duration (seconds)").fill("5")
    expect(estimate_section(page)).to_have_attribute("data-fits", "true")
    set_credits(me["id"], 1000)
    page.get_by_label("Duration (seconds)").fill("6")  # a new estimate, against the new balance
    expect(estimate_section(page)).to_have_attribute("data-fits", "false")
    expect(page.get_by_role("alert")).to_contain_text("Your credits do not cover this video")

    page.get_by_role("button", name="Make the video").click()
    refused = page.get_by_test_id("credits-exhausted")
    expect(refused).to_contain_text("you have $0.0010 available")
    expect(refused).to_contain_text("Not enough credits: this video needs $")
    check_accessibility(page, "new video (credits exhausted)")
    shot(page, "new-video-credits-exhausted")


def test_a_free_user_sees_on_billing_what_an_upgrade_includes(page, platform_stack):
    sign_up(page)
    page.goto("/billing")
    expect(page.locator(".plan-name")).to_have_text("free")
    mine = page.get_by_role("list", name="AI in your free plan")
    expect(mine.locator("li[data-purpose='image']")).to_have_text("Images: offline, or your own key")
    expect(mine.locator("li[data-purpose='concept']")).to_have_text("Script: openai gpt-4o-mini")
    pro = page.get_by_role("list", name="AI in the pro plan")
    expect(pro.locator("li[data-purpose='image']")).to_have_text("Images: openai gpt-image-1 (medium)")
    expect(pro.locator("li[data-purpose='narration']")).to_have_text("Narration: openai tts-1")
    expect(page.get_by_test_id("plan-credits-pro")).to_have_text(f"{PRO_CREDITS} of AI credits a month")
    expect(page.get_by_test_id("credits-available")).to_have_text("$0.05")
    check_accessibility(page, "billing (free)")
    shot(page, "billing-free")
