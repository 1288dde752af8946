"""Behind CloudFront: the API refuses what did not come through it (403 `origin_required`), and
per-IP limits key on the viewer's address CloudFront names, never on one a caller made up.

The in-process client plays API Gateway: its sourceIp is the CloudFront edge's address (made up
per test: the test Redis is shared by every session on the machine)."""

from __future__ import annotations

import logging
import secrets

import pytest
from chalice.local import LambdaEventConverter

from chalicelib.core.settings import get_settings
from chalicelib.http import origin

LOGIN = {"email": "nobody@example.com", "password": "not the password"}
ROUTES = [("GET", "/v1/health"), ("GET", "/v1/openapi.json"), ("POST", "/v1/auth/login")]


def _address() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


@pytest.fixture
def edge(monkeypatch) -> str:
    """sourceIp of every request: one CloudFront edge's; auth limited to 2 a minute per address."""
    address = _address()
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)
    monkeypatch.setattr(get_settings(), "rate_limit_auth", "2/minute")
    return address


@pytest.fixture
def secret(monkeypatch) -> str:
    """The stack's origin secret, as the API would read it from Secrets Manager."""
    from pydantic import SecretStr

    value = secrets.token_urlsafe(36)
    monkeypatch.setattr(get_settings(), "origin_verify_secret", SecretStr(value))
    return value


def _logins(api, headers: dict, times: int = 1) -> list[int]:
    return [api.call("POST", "/v1/auth/login", LOGIN, headers=headers).status_code for _ in range(times)]


def test_a_request_without_the_origin_secret_is_refused_on_every_route(api, edge, secret, caplog):
    with caplog.at_level(logging.DEBUG):
        almost = secret[:-1] + ("y" if secret.endswith("x") else "x")
        for headers in ({}, {"X-Origin-Verify": ""}, {"X-Origin-Verify": almost}):
            for method, path in ROUTES:
                refused = api.call(method, path, LOGIN if method == "POST" else None, headers=headers)
                assert refused.status_code == 403, (method, path, refused.body)
                assert refused.json["error"]["code"] == "origin_required"
        passed = api.call("GET", "/v1/openapi.json", headers={"X-Origin-Verify": secret})
    assert passed.status_code == 200
    assert secret not in caplog.text and secret.encode() not in refused.body


def test_limits_key_on_the_viewer_cloudfront_names_not_on_the_edge(api, edge, secret):
    first, second = _address(), f"2001:db8::{secrets.randbelow(0xFFFF):x}"
    through = {"X-Origin-Verify": secret}
    assert _logins(api, {**through, "CloudFront-Viewer-Address": f"{first}:40001"}, 3) == [401, 401, 429]
    # another viewer behind the same edge (IPv6, its port after the last colon) has its own budget
    assert _logins(api, {**through, "CloudFront-Viewer-Address": f"{second}:443"}, 2) == [401, 401]
    assert origin.viewer_ip(f"{second}:443") == second


def test_a_viewer_address_without_the_secret_is_ignored(api, edge):
    """Locally (no secret configured) nothing is refused, and a made-up CloudFront-Viewer-Address
    buys no fresh budget: every request counts against its sourceIp."""
    codes = [_logins(api, {"CloudFront-Viewer-Address": f"{_address()}:1"})[0] for _ in range(3)]
    assert codes == [401, 401, 429]


def test_a_spoofed_viewer_address_with_a_wrong_secret_never_reaches_a_limit(api, edge, secret):
    spoofed = {"X-Origin-Verify": "guess", "CloudFront-Viewer-Address": f"{_address()}:1"}
    assert _logins(api, spoofed, 3) == [403, 403, 403]
    assert _logins(api, {"X-Origin-Verify": secret}, 1) == [401]  # the edge's budget is untouched


@pytest.mark.parametrize(
    "value, address",
    [
        ("198.51.100.10:46532", "198.51.100.10"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334:46532", "2001:db8:85a3::8a2e:370:7334"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("198.51.100.10", None),  # no port: not CloudFront's format
        ("example.com:443", None),
        ("198.51.100.10:", None),
        ("", None),
        (None, None),
    ],
)
def test_the_viewer_address_is_parsed_strictly(value, address):
    assert origin.viewer_ip(value) == address
