"""The one AWS client factory: AWS itself, LocalStack or the moto server.

The endpoint: AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_SES) when set, else
AWS_ENDPOINT_URL when set; else LocalStack's conventions (USE_LOCALSTACK=1, or
LOCALSTACK_HOSTNAME/EDGE_PORT inside LocalStack's Lambdas) through `localstack_client`; else the
local stage's emulator on loopback; else AWS.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

from chalicelib.core.settings import get_settings

_lock = threading.Lock()


def endpoint_url(service: str) -> str | None:
    settings = get_settings()
    # The SDKs' service-specific override (e.g. AWS_ENDPOINT_URL_SES) wins, as in boto3 itself.
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
    if specific:
        return specific
    if settings.aws_endpoint_url or not settings.uses_localstack:
        return settings.aws_endpoint_url
    from localstack_client.config import get_service_endpoint

    host = os.environ.get("LOCALSTACK_HOSTNAME")
    return get_service_endpoint(service, f"{host}:{os.environ.get('EDGE_PORT', '4566')}" if host else None)


@cache
def client(service: str) -> Any:
    """A boto3 client, built lazily once per process (boto3 costs ~100 ms to import)."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    endpoint = endpoint_url(service)
    kwargs: dict[str, Any] = {
        "region_name": settings.aws_region,
        "config": Config(
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"} if endpoint else None,
            signature_version="s3v4" if service == "s3" else None,
        ),
    }
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        # Emulators accept any credentials; don't make a newcomer configure some.
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = "test"
            kwargs["aws_secret_access_key"] = "test"
    with _lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client(service, **kwargs)
