"""Security headers: on every API reply, and the console's Content-Security-Policy.

The API answers JSON (or SSE) that no browser should render, frame or sniff, so its replies
forbid all of that. The console (served by CloudFront in AWS and by scripts/chalice_local.py
locally) keeps its access token in sessionStorage, so its CSP runs only its own bundled
scripts: no inline script, no eval, nothing from another origin; media may come from the media
bucket's presigned URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Response

API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# Where presigned media URLs point in AWS (virtual-hosted S3 names).
AWS_MEDIA = "https://*.amazonaws.com"


def console_csp(media_endpoint: str | None) -> str:
    """The console's policy; `media_endpoint` is the S3 endpoint presigned URLs use locally
    (AWS_ENDPOINT_URL), None in AWS."""
    media = AWS_MEDIA
    if media_endpoint:
        parts = urlsplit(media_endpoint)
        media = f"{parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {media}",
            f"media-src 'self' blob: {media}",
            f"connect-src 'self' {media}",  # uploads post straight to the bucket
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CONSOLE_HEADERS = {k: v for k, v in API_HEADERS.items() if k != "Content-Security-Policy"} | {
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware: the API's security headers on every reply, errors included (a
    header the route set itself wins)."""
    response = get_response(event)
    present = {k.lower() for k in response.headers}
    for name, value in API_HEADERS.items():
        if name.lower() not in present:
            response.headers[name] = value
    return response
