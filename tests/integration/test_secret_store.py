"""In AWS the signing secrets come from Secrets Manager at run time (here: the moto server)."""

from __future__ import annotations

import secrets

import pytest

from chalicelib.accounts import auth
from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, secret_store


@pytest.fixture
def stored_secret():
    sm = aws.client("secretsmanager")
    value = secrets.token_urlsafe(32)
    arn = sm.create_secret(Name=f"test/jwt-{secrets.token_hex(4)}", SecretString=value)["ARN"]
    yield arn, value
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    secret_store._from_secrets_manager.cache_clear()


def test_tokens_are_signed_with_the_secret_from_secrets_manager(stored_secret, monkeypatch, user):
    import jwt

    arn, value = stored_secret
    monkeypatch.setattr(get_settings(), "jwt_secret_arn", arn)
    token, _ = auth.issue_access_token(user["user"]["id"])
    assert jwt.decode(token, value, algorithms=["HS256"])["sub"] == user["user"]["id"]
    assert auth.authenticate(f"Bearer {token}").user_id == user["user"]["id"]
    with pytest.raises(Exception):  # the settings' (local) secret no longer verifies it
        jwt.decode(token, get_settings().jwt_secret.get_secret_value(), algorithms=["HS256"])


def test_whop_secret_from_secrets_manager(stored_secret, monkeypatch):
    arn, value = stored_secret
    monkeypatch.setattr(get_settings(), "whop_webhook_secret_arn", arn)
    assert secret_store.whop_webhook_secret() == value


def test_whop_api_key_from_secrets_manager(stored_secret, monkeypatch):
    arn, value = stored_secret
    monkeypatch.setattr(get_settings(), "whop_api_key_arn", arn)
    assert secret_store.whop_api_key() == value
