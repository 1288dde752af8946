"""Security headers (issue 23, Lower): every API reply forbids rendering, framing and sniffing;
the console, as served locally, carries a strict Content-Security-Policy (no inline script, no
other origin's script) that still lets it reach the media bucket."""

from __future__ import annotations

import httpx
import pytest

from chalicelib.core.settings import get_settings
from chalicelib.http.security_headers import API_HEADERS, console_csp
from scripts.chalice_local import CONSOLE


# /v1/me unauthenticated: an error reply. (A path no route has is answered by the gateway, or
# chalice local's emulation of it, before the app.)
@pytest.mark.parametrize("path", ["/v1/health", "/v1/me", "/v1/openapi.json"])
def test_every_api_reply_carries_the_security_headers(api, path):
    reply = api.call("GET", path)
    for name, value in API_HEADERS.items():
        assert reply.headers.get(name.lower()) == value, (path, name)


def test_the_console_is_served_with_a_strict_content_security_policy(live_api):
    if not (CONSOLE / "index.html").is_file():
        pytest.skip("the console is not built (scripts/build_web.sh)")
    page = httpx.get(f"{live_api}/jobs", timeout=10)
    assert page.status_code == 200 and '<div id="root">' in page.text
    csp = page.headers["content-security-policy"]
    assert csp == console_csp(get_settings().aws_endpoint_url)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "http://127.0.0.1:4566" in directives["connect-src"]  # the local bucket (uploads)
    assert "<script>" not in page.text  # nothing inline the policy would block
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
