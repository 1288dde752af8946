"""Mailed links and checkout's redirect point at the console: in AWS its URL is read from the SSM
parameter the template writes (the API cannot name CloudFront's domain itself: a cycle)."""

from __future__ import annotations

import secrets

import pytest

from chalicelib.accounts import email_links
from chalicelib.accounts.account_tokens import Purpose
from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, public_url


@pytest.fixture
def parameter(monkeypatch):
    ssm = aws.client("ssm")
    name = f"/media-test-{secrets.token_hex(4)}/public-url"
    ssm.put_parameter(Name=name, Value="https://d111111abcdef8.cloudfront.net/", Type="String")
    monkeypatch.setattr(get_settings(), "public_url_parameter", name)
    public_url.reset()
    yield name
    ssm.delete_parameter(Name=name)
    public_url.reset()


def test_links_use_the_console_url_from_the_parameter(parameter):
    link = email_links.link(Purpose.verify_email, "tok")
    assert link == "https://d111111abcdef8.cloudfront.net/verify-email?token=tok"


def test_the_parameter_is_read_once_per_container(parameter):
    assert public_url.base() == "https://d111111abcdef8.cloudfront.net"
    aws.client("ssm").put_parameter(
        Name=parameter, Value="https://changed.example", Overwrite=True, Type="String"
    )
    assert public_url.base() == "https://d111111abcdef8.cloudfront.net"


def test_without_a_parameter_public_url_is_used(monkeypatch):
    monkeypatch.setattr(get_settings(), "public_url", "http://127.0.0.1:5173/")
    assert public_url.base() == "http://127.0.0.1:5173"
