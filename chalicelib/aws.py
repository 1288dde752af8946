"""The one AWS client factory: AWS itself, LocalStack or the moto server, by AWS_ENDPOINT_URL."""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

from chalicelib.config import get_settings

_lock = threading.Lock()


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A boto3 client, built lazily once per process (boto3 costs ~100 ms to import)."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    kwargs: dict[str, Any] = {
        "region_name": settings.aws_region,
        "config": Config(retries={"mode": "standard", "max_attempts": 3},
                         s3={"addressing_style": "path"} if settings.aws_endpoint_url else None,
                         signature_version="s3v4" if service == "s3" else None),
    }
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        # Emulators accept any credentials; don't make a newcomer configure some.
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = "test"
            kwargs["aws_secret_access_key"] = "test"
    with _lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client(service, **kwargs)
