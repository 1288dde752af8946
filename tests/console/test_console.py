"""The console as a person uses it (issue 11, point 5), in headless Chromium on the real stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chalicelib.pipeline.media.contact_sheet import sheet_times, write_contact_sheet
from tests.console.conftest import (
    JOB_TIMEOUT_MS,
    SHOTS,
    api_client,
    progress_section,
    shot,
    sign_up,
    submit_video,
    token_of,
    verify_email,
)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_sign_up_make_a_video_watch_it_reach_100_play_and_download(viewport, request, tmp_path):
    page = request.getfixturevalue("page" if viewport == "desktop" else "phone_page")
    sign_up(page)
    expect(page.get_by_text(re.compile(r"5–30 s on your free plan"))).to_be_visible()
    if viewport == "desktop":  # a reference image, posted straight to S3 with a progress bar
        from PIL import Image

        Image.new("RGB", (64, 96), (200, 120, 40)).save(tmp_path / "ref.png")
        page.get_by_label("Reference image").set_input_files(str(tmp_path / "ref.png"))
    shot(page, f"new-video-{viewport}")

    if viewport == "phone":  # captions as lines, and music under the voice at 50%
        import math
        import struct
        import wave

        with wave.open(str(tmp_path / "music.wav"), "wb") as wav:  # 6 s of a quiet 220 Hz tone
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(22050)
            wav.writeframes(
                b"".join(
                    struct.pack("<h", int(3000 * math.sin(2 * math.pi * 220 * i / 22050)))
                    for i in range(22050 * 6)
                )
            )
        page.get_by_label("Captions").select_option("lines")
        page.locator("#music").set_input_files(str(tmp_path / "music.wav"))
        page.locator("#music-volume").fill("0.5")
    job_id = submit_video(page, "A paper boat sails to the moon")
    request_facts = page.locator("section[aria-label='Request']")
    if viewport == "desktop":
        expect(request_facts).to_contain_text("reference_image_upload_id")
    else:
        expect(request_facts).to_contain_text("music_upload_id")
        expect(request_facts).to_contain_text("lines")
    assert job_id.startswith("job_")
    progress = progress_section(page)
    # Live updates reach the page (events applied), then the job ends at 100%.
    expect(progress).not_to_have_attribute("data-updates", "0")
    shot(page, f"job-running-{viewport}")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_role("progressbar", name="Video progress")).to_have_attribute("aria-valuenow", "100")
    for step in ("concept", "image", "video", "upload"):
        expect(progress.locator(f"li[data-step='{step}']")).to_have_attribute("data-status", "succeeded")

    # The <video> element loads the MP4: metadata read, duration as asked.
    page.wait_for_function("() => document.querySelector('video')?.readyState >= 1")
    duration = page.locator("video").evaluate("v => v.duration")
    assert 4.0 <= duration <= 7.0
    # Downloads work: the MP4 link serves an MP4, the captions link SRT text.
    mp4 = page.request.get(page.get_by_role("link", name="Download MP4").get_attribute("href"))
    assert mp4.ok and mp4.body()[4:8] == b"ftyp"
    # A contact sheet of the video the console made (frames at fixed times), for a reviewer.
    (tmp_path / "first-video.mp4").write_bytes(mp4.body())
    sheet = SHOTS / f"first-video-sheet-{viewport}.png"
    write_contact_sheet(tmp_path / "first-video.mp4", sheet, sheet_times(duration))
    assert sheet.stat().st_size > 0
    srt = page.request.get(page.get_by_role("link", name="Download captions").get_attribute("href"))
    assert srt.ok and "-->" in srt.text()
    expect(page.get_by_role("table")).to_contain_text("offline")  # provider per step
    shot(page, f"job-done-{viewport}")

    # The list shows it with its thumbnail.
    if viewport == "desktop":
        page.get_by_role("link", name="Videos", exact=True).click()
    else:
        page.goto("/jobs")
    card = page.locator("li.job-card").first
    expect(card).to_have_attribute("data-status", "succeeded")
    page.wait_for_function("() => document.querySelector('li.job-card img')?.naturalWidth > 0")
    shot(page, f"jobs-{viewport}")


def test_a_running_job_shows_its_time_left_cancel_it_then_retry_it(page):
    sign_up(page)
    submit_video(page, "A lighthouse keeper paints the storm", duration=20)
    progress = progress_section(page)
    expect(progress).to_have_attribute("data-status", "running", timeout=JOB_TIMEOUT_MS)
    # The time left, from the events' estimate, counting down beside the status.
    time_left = progress.get_by_test_id("time-left")
    expect(time_left).to_have_text(re.compile(r"^(about \d+ (s|min)|a few seconds) left$"))

    page.get_by_role("button", name="Cancel").click()
    expect(progress).to_have_attribute("data-status", "canceled", timeout=60_000)
    expect(time_left).to_have_count(0)  # a job that will not end has no time left
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()

    page.get_by_role("button", name="Retry").click()
    expect(progress).to_have_attribute("data-status", re.compile("queued|running"))
    expect(page.get_by_role("button", name="Retry")).to_be_disabled()
    # Leave nothing running for the next test.
    page.get_by_role("button", name="Cancel").click()
    expect(progress).to_have_attribute("data-status", "canceled", timeout=60_000)


def test_api_key_is_shown_once_and_revoking_it_stops_it(page, console):
    sign_up(page)
    page.goto("/api-keys")
    page.get_by_label("Name").fill("laptop")
    page.keyboard.press("Enter")
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("ak_")
    with api_client(console, key) as client:
        assert client.get("/v1/me").status_code == 200
    row = page.locator("tr", has_text="laptop")
    expect(row).to_contain_text(key[:9])
    page.get_by_role("button", name="I stored it").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)  # never shown again
    page.reload()
    expect(page.locator("body")).not_to_contain_text(key)

    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.locator("tr", has_text="laptop")).to_have_count(0)
    with api_client(console, key) as client:
        assert client.get("/v1/me").status_code == 401


def test_provider_key_is_stored_and_only_its_last4_shown(page):
    sign_up(page)
    page.goto("/provider-keys")
    secret = "sk-console-test-9f8e7d6c5b4a1234"
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Store key").click()
    row = page.locator("tr[data-provider='openai']")
    expect(row).to_contain_text("…1234")
    expect(page.locator("body")).not_to_contain_text(secret)
    # New video now says the key is stored.
    page.goto("/new")
    expect(page.get_by_label("image provider")).to_contain_text("openai (your key is stored)")
    page.goto("/provider-keys")
    page.get_by_role("button", name="Delete the openai key").click()
    expect(page.locator("tr[data-provider='openai']")).to_have_count(0)


def test_the_apis_422_details_appear_next_to_their_fields(page):
    sign_up(page)
    page.get_by_label("Prompt").fill("Too long for any plan")
    page.get_by_label("Duration (seconds)").fill("999")
    page.get_by_label("Language").fill("not a language!")
    page.get_by_role("button", name="Make the video").click()
    expect(page.locator("#duration_s-error")).to_contain_text("180")
    expect(page.locator("#language-error")).to_be_visible()
    expect(page.get_by_label("Duration (seconds)")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/new$"))


def test_a_401_sends_the_person_back_to_log_in_and_then_where_they_were(page):
    email = sign_up(page)
    page.evaluate("() => sessionStorage.setItem('media.token', 'expired-or-forged')")
    page.goto("/api-keys")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("session ended")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/api-keys$"))
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert token_of(page) is None


def test_billing_shows_plan_and_usage_and_subscribe_opens_whop_checkout(page, console):
    email = sign_up(page, verified=False)
    page.goto("/billing")
    expect(page.locator(".plan-name")).to_have_text("free")
    usage = page.get_by_role("progressbar", name="Videos used this period")
    expect(usage).to_have_attribute("aria-valuenow", "0")
    # Unverified: asked to verify first (memberships count only for verified addresses).
    expect(page.get_by_role("region", name="Email verification")).to_be_visible()
    expect(page.get_by_role("button", name="Upgrade to pro")).to_be_disabled()
    verify_email(page, email)

    page.goto("/billing")
    expect(page.get_by_role("region", name="Email verification")).to_have_count(0)
    shot(page, "billing")
    with api_client(console, token_of(page)) as client:
        user_id = client.get("/v1/me").json()["id"]
    page.get_by_role("button", name="Upgrade to pro").click()
    expect(page.get_by_role("heading", name="Whop checkout")).to_be_visible()
    expect(page.locator("#plan")).to_have_text("plan_pro")
    sent = console.whop.requests[-1]["json"]
    assert sent["plan_id"] == "plan_pro"
    assert sent["metadata"] == {"user_id": user_id}
    assert sent["redirect_url"] == f"{console.url}/billing?checkout=done"


def test_forgotten_password_is_reset_through_the_mailed_link(page):
    from tests.mailbox import last_link

    email = sign_up(page)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("reset link is on its way")

    link, _ = last_link(email, "/reset-password")
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new password")
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))  # logged in with the new password
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a brand new password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
