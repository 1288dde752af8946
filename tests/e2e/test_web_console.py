"""The web console's build and its one origin with the API (issue 11, points 1 and 4).
The browser tests are in tests/console/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def test_vitest_component_and_hook_tests_pass():
    npx = shutil.which("npx")
    assert npx and (WEB / "node_modules").is_dir(), "Node and web/node_modules come with the bring-up"
    proc = subprocess.run(
        [npx, "vitest", "run", "--reporter=dot"], cwd=WEB, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def built():
    index = WEB / "dist" / "index.html"
    assert index.is_file(), "web/dist is built by the bring-up (scripts/build_web.sh)"
    return index.read_text()


def test_console_and_api_answer_on_one_origin(live_api, built):
    with httpx.Client(base_url=live_api, timeout=10) as client:
        root = client.get("/")
        assert root.status_code == 200 and root.text == built
        assert root.headers["cache-control"] == "no-cache"
        # The SPA's own routes load on a reload: index.html, not a 404.
        assert client.get("/jobs/job_0123?x=1").text == built
        asset = next((WEB / "dist" / "assets").glob("*.js")).name
        js = client.get(f"/assets/{asset}")
        assert js.headers["content-type"] in ("text/javascript", "application/javascript")
        assert "immutable" in js.headers["cache-control"]
        # /v1 stays the API's: an unknown route is API Gateway's answer (as in AWS), not the SPA.
        missing = client.get("/v1/no-such-route")
        assert missing.status_code in (403, 404) and missing.text != built
        assert client.get("/v1/health").json()["status"] in ("ok", "degraded")


@pytest.mark.parametrize("path", ["/../../app.py", "/%2e%2e/%2e%2e/app.py", "/assets/../../app.py"])
def test_paths_outside_the_build_are_never_served(live_api, built, path):
    response = httpx.get(live_api + path, timeout=10)
    assert response.text == built and "Chalice" not in response.text


def test_gzipped_bundle_is_within_budget(built):
    import gzip

    size = sum(len(gzip.compress(p.read_bytes(), 9)) for p in (WEB / "dist" / "assets").glob("*.js"))
    assert size < 200 * 1024, f"{size} bytes of gzipped JS (budget: 200 KB; bench/web.py)"


def test_web_deploy_uploads_the_build_with_its_cache_rules():
    """scripts/deploy_web.py against the emulator's S3 (CloudFront is AWS's own)."""
    import secrets

    from chalicelib.infra import aws
    from scripts import deploy_web

    s3 = aws.client("s3")
    bucket = f"console-test-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    keys: list[str] = []
    try:
        keys = deploy_web.upload(bucket)
        assert "index.html" in keys and keys[-1] != keys[0]
        assert keys.index("index.html") > max(i for i, k in enumerate(keys) if k.startswith("assets/"))
        index = s3.head_object(Bucket=bucket, Key="index.html")
        assert (index["ContentType"], index["CacheControl"]) == ("text/html", "no-cache")
        asset = next(k for k in keys if k.endswith(".js"))
        head = s3.head_object(Bucket=bucket, Key=asset)
        assert "immutable" in head["CacheControl"] and "javascript" in head["ContentType"]
    finally:
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
