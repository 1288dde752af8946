"""The operator's own provider accounts (platform AI), read by the worker only.

One secret per provider in Secrets Manager, named PLATFORM_SECRET_PREFIX + provider, holding
`{"api_key": "...", "base_url": "..." (optional)}`; never in an environment. Each is cached for
PLATFORM_KEY_CACHE_S, so a rotated key is picked up without a redeploy. Locally the bring-up
creates them in the emulator from PLATFORM_<PROVIDER>_API_KEY (and _BASE_URL) when given.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws

log = logging.getLogger(__name__)
_cache: dict[str, tuple[float, tuple[str, str | None] | None]] = {}
_lock = threading.Lock()


def secret_name(provider: str) -> str:
    return f"{get_settings().platform_secret_prefix}{provider}"


def credential(provider: str) -> tuple[str, str | None] | None:
    """(api key, base_url or None) of the platform's account for `provider`; None when the
    operator configured none (not in PLATFORM_PROVIDERS, or its secret is missing or unreadable)."""
    settings = get_settings()
    if provider not in settings.platform_providers:
        return None
    now = time.monotonic()
    with _lock:
        cached = _cache.get(provider)
        if cached is not None and now - cached[0] < settings.platform_key_cache_s:
            return cached[1]
    found = _read(provider)
    with _lock:
        _cache[provider] = (now, found)
    return found


def _read(provider: str) -> tuple[str, str | None] | None:
    try:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=secret_name(provider))["SecretString"]
        value = json.loads(raw)
        key, base_url = value["api_key"], value.get("base_url")
        if not isinstance(key, str) or not key or not isinstance(base_url, (str, type(None))):
            raise ValueError("api_key must be a non-empty string, base_url a string")
    except Exception as exc:  # missing, unreadable, malformed: the platform account is off
        log.warning("platform account for %s unavailable: %s", provider, type(exc).__name__)
        return None
    return key, base_url


def forget() -> None:
    """Drop the cache (tests; a rotation is otherwise picked up within PLATFORM_KEY_CACHE_S)."""
    with _lock:
        _cache.clear()
