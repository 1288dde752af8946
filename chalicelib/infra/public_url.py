"""The console's public URL: the base of mailed links and of checkout's redirect.

In AWS it is the CloudFront distribution's address, which the API's own configuration cannot
name: the distribution routes /v1 to the API, so the API depending on the distribution would be
a cycle. The template writes it to an SSM parameter instead, and the API gets only the
parameter's name (PUBLIC_URL_PARAMETER, a fixed string) and reads it once per container.
Elsewhere, and with no parameter named, it is PUBLIC_URL.
"""

from __future__ import annotations

import threading

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws

_lock = threading.Lock()
_from_parameter: dict[str, str] = {}


def base() -> str:
    """The console's URL without a trailing slash, e.g. https://d111111abcdef8.cloudfront.net."""
    settings = get_settings()
    name = settings.public_url_parameter
    if not name:
        return settings.public_url.rstrip("/")
    with _lock:
        if name not in _from_parameter:
            value = aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
            _from_parameter[name] = value.rstrip("/")
        return _from_parameter[name]


def reset() -> None:
    """Forget the parameter's value (tests; a container otherwise keeps it for its life)."""
    with _lock:
        _from_parameter.clear()
