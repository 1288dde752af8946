"""Outbound URLs (BYOK base_url, webhook endpoints): checked when saved and again when called."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.infra import url_guard


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.setattr(get_settings(), "stage", "prod")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/x",
        "https://[::ffff:10.0.0.5]/x",
        "https://localhost/hook",
    ],
)
def test_internal_destinations_are_refused_when_deployed(deployed, url):
    with pytest.raises(ValidationFailed):
        url_guard.check_outbound(url, "url")


def test_a_name_that_resolves_inside_is_refused_at_call_time(deployed):
    # a host name passes the literal-IP check when saved; what it resolves to is checked per call
    with pytest.raises(url_guard.UnsafeDestination):
        url_guard.checked_address("localhost")


def test_the_local_stage_may_call_loopback():
    url_guard.check_outbound("http://127.0.0.1:11434/v1", "base_url")
    assert url_guard.checked_address("localhost") in ("127.0.0.1", "::1")
    for url in ("http://169.254.169.254/latest", "https://10.0.0.5/x", "https://100.64.0.1/x"):
        with pytest.raises(ValidationFailed):  # but never link-local (cloud metadata) or private
            url_guard.check_outbound(url, "base_url")
