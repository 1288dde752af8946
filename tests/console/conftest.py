"""The console in a real browser: Debian's headless Chromium driven by Playwright, against the real
local stack (`chalice local` serving the built console and the API on one origin, a worker
process, MariaDB, Redis, S3 on the emulator) and a local fake of Whop's API.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws
from tests.conftest import free_port, local_stack
from tests.fakes.whop_server import FakeWhop

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "out" / "console"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
JOB_TIMEOUT_MS = 240_000  # a 5 s video on a busy 2-core machine


class Console(NamedTuple):
    url: str
    whop: FakeWhop
    logs: Path


@pytest.fixture(scope="package")
def console(isolated_backends, tmp_path_factory):
    """API (serving web/dist) and one worker on their own queue, with Whop checkout configured."""
    if not (DIST / "index.html").is_file():
        pytest.fail("web/dist is missing: run the bring-up (scripts/build_web.sh builds it)")
    logs = tmp_path_factory.mktemp("console-stack")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    # The session's own bucket gets the CORS rule the init hook gives the local one, so the
    # browser can POST a reference image to it.
    aws.client("s3").put_bucket_cors(
        Bucket=get_settings().media_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["GET", "POST", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    with FakeWhop(api_key="whop_console_key", plans=("plan_pro", "plan_business")) as whop:
        env = {
            "QUEUE_NAME": os.environ["QUEUE_NAME"] + "-web",
            "WORKER_CONCURRENCY": "1",
            "WHOP_API_URL": whop.api_url,
            "WHOP_API_KEY": "whop_console_key",
            "WHOP_PLAN_MAP": json.dumps({"plan_pro": "pro", "plan_business": "business"}),
            "PUBLIC_URL": origin,
        }  # mailed links and Whop's way back open this console
        with local_stack(logs, env, port):
            yield Console(origin, whop, logs)


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _new_page(browser, console, viewport):
    context = browser.new_context(base_url=console.url, viewport=viewport)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return context, page


@pytest.fixture
def page(browser, console):
    context, page = _new_page(browser, console, DESKTOP)
    yield page
    context.close()
    assert page.errors == [], page.errors  # no uncaught script errors on any page


@pytest.fixture
def phone_page(browser, console):
    context, page = _new_page(browser, console, PHONE)
    yield page
    context.close()
    assert page.errors == [], page.errors


# ---- helpers the tests share ----------------------------------------------------------------
def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up(
    page, email: str | None = None, password: str = "a long enough password", verified: bool = True
) -> str:
    """Sign up through the page with the keyboard only; lands on New video. Then, unless
    `verified=False`, confirm the mailed link (only a verified address may create credentials)."""
    email = email or f"web-{secrets.token_hex(5)}@example.com"
    page.goto("/signup")
    page.get_by_role("heading", name="Create your account").wait_for()
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # first nav link
    page.get_by_label("Email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/new$"))
    page.get_by_label("Prompt").wait_for()
    if verified:
        verify_email(page, email)
        page.goto("/new")
        page.get_by_label("Prompt").wait_for()
    return email


def verify_email(page, email: str) -> None:
    """Open the mailed verification link (the session's SES emulator holds the mail) and, signed
    in, confirm with the button: the page posts nothing by itself."""
    from tests.mailbox import last_link

    link, _ = last_link(email, "/verify-email")
    page.goto(link)
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_text(f"{email} is verified").wait_for()


def token_of(page) -> str:
    return page.evaluate("() => sessionStorage.getItem('media.token')")


def submit_video(page, prompt: str, duration: int = 5, script: bool = False) -> str:
    """Fill New video (a prompt, or with script=True the text as a script) and submit; returns
    the job id from the job page's URL."""
    if script:
        page.get_by_label("My script").check()
        page.get_by_label("Script", exact=True).fill(prompt)
    else:
        page.get_by_label("Prompt").fill(prompt)
    page.get_by_label("Duration (seconds)").fill(str(duration))
    page.get_by_role("button", name="Make the video").click()
    page.wait_for_url(re.compile(r"/jobs/job_[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[-1]


def progress_section(page):
    return page.locator("section[aria-label='Progress']")


def api_client(console, token: str) -> httpx.Client:
    return httpx.Client(base_url=console.url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def check_accessibility(page, name: str) -> None:
    """axe-core on the page as it stands: no serious or critical violations."""
    # Evaluated through the DevTools protocol, which the console's CSP (script-src 'self', no
    # inline scripts) rightly does not allow a <script> tag to do.
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"
