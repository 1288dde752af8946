"""Secrets the app signs or verifies with: from Secrets Manager when an ARN is configured (in
AWS), else from the settings (locally). Fetched once per process through the one AWS factory."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeGuard

from chalicelib.core.settings import get_settings

# Values that mean "nobody set this": signing with them must never be accepted.
PLACEHOLDERS = frozenset(
    {
        "not-configured",
        "notconfigured",
        "none",
        "null",
        "changeme",
        "change-me",
        "placeholder",
        "todo",
        "secret",
        "unset",
        "default",
    }
)


def is_configured(secret: str | None) -> TypeGuard[str]:
    """A real secret: present, not blank and not a well-known placeholder."""
    return secret is not None and secret.strip() != "" and secret.strip().lower() not in PLACEHOLDERS


@lru_cache(maxsize=8)
def _from_secrets_manager(arn: str) -> str:
    from chalicelib.infra import aws

    return aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def jwt_secret() -> str:
    """Only the API signs and checks access tokens; other processes are not given the secret."""
    settings = get_settings()
    if settings.jwt_secret_arn:
        return _from_secrets_manager(settings.jwt_secret_arn)
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET or JWT_SECRET_ARN must be set where access tokens are used")
    return settings.jwt_secret.get_secret_value()


def whop_webhook_secret() -> str | None:
    settings = get_settings()
    if settings.whop_webhook_secret_arn:
        return _from_secrets_manager(settings.whop_webhook_secret_arn)
    return settings.whop_webhook_secret.get_secret_value() if settings.whop_webhook_secret else None


def whop_api_key() -> str | None:
    settings = get_settings()
    if settings.whop_api_key_arn:
        return _from_secrets_manager(settings.whop_api_key_arn)
    return settings.whop_api_key.get_secret_value() if settings.whop_api_key else None


def origin_verify_secret() -> str | None:
    """The value CloudFront sends the API in X-Origin-Verify, or None: nothing to check (locally)."""
    settings = get_settings()
    if settings.origin_verify_secret_arn:
        return _from_secrets_manager(settings.origin_verify_secret_arn)
    secret = settings.origin_verify_secret
    return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None
