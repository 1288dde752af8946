"""Every page of the console passes axe-core (no serious or critical violations) and is
screenshotted under out/console/ for review."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.conftest import (
    JOB_TIMEOUT_MS,
    check_accessibility,
    progress_section,
    shot,
    sign_up,
    submit_video,
)


def test_every_page_is_accessible(page):
    for path, name in (
        ("/login", "login"),
        ("/signup", "signup"),
        ("/forgot-password", "forgot-password"),
        ("/reset-password?token=x", "reset-password"),
        ("/verify-email?token=not-a-real-token", "verify-email"),
    ):
        page.goto(path)
        page.get_by_role("heading", level=1).wait_for()
        check_accessibility(page, name)
        shot(page, name)

    sign_up(page)
    page.get_by_label("Scene by scene").check()
    check_accessibility(page, "new video (scenes)")
    shot(page, "new-video-scenes")
    page.get_by_label("My script").check()
    job_id = submit_video(page, "An owl reads a map by lantern light. It finds its way home.", script=True)
    expect(page.locator(".prompt-quote")).to_contain_text("An owl reads a map")
    check_accessibility(page, "job (running)")
    for path, heading, name in (
        ("/new", "New video", "new-video"),
        ("/jobs", "Videos", "jobs"),
        ("/api-keys", "API keys", "api-keys"),
        ("/provider-keys", "Provider keys", "provider-keys"),
        ("/webhooks", "Webhooks", "webhooks"),
        ("/billing", "Billing", "billing"),
        ("/audit", "Audit log", "audit-log"),
        ("/no-such-page", "Page not found", "not-found"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        page.wait_for_selector("[role=status]:has-text('Loading')", state="detached")
        check_accessibility(page, name)
        shot(page, name)

    page.goto(f"/jobs/{job_id}")
    expect(progress_section(page)).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('video')?.readyState >= 1")
    check_accessibility(page, "job (done)")
    shot(page, "job")
