"""Only CloudFront may call the API, and only CloudFront says who the caller is.

In AWS the API Gateway endpoint is public too, so CloudFront's origin for /v1/* adds the header
X-Origin-Verify with a secret the stack generates (template.yaml, OriginVerifySecret) and the
API refuses a request without it: 403 `origin_required`. Behind CloudFront, API Gateway's
sourceIp is the edge's address; the viewer's is in CloudFront-Viewer-Address ("ip:port"), which
counts only on a request that proved it came through CloudFront (anyone can send that header to
the regional endpoint). Locally no secret is configured: nothing is refused, the caller is sourceIp.
Whop's webhooks come through CloudFront as well (they are sent to the public URL).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib.core.errors import Forbidden
from chalicelib.infra import secret_store

ORIGIN_HEADER = "X-Origin-Verify"
VIEWER_HEADER = "CloudFront-Viewer-Address"


def middleware(event: Request, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware (inside the error envelope): with a secret configured, a request that
    did not come through CloudFront is refused before any route runs."""
    if secret_store.origin_verify_secret() is not None and not through_cloudfront(event):
        raise Forbidden("This API answers through its public URL only", code="origin_required")
    return get_response(event)


def through_cloudfront(request: Request) -> bool:
    """The request carries CloudFront's secret (compared in constant time; never logged)."""
    secret = secret_store.origin_verify_secret()
    sent = request.headers.get(ORIGIN_HEADER)
    if secret is None or sent is None:
        return False
    return hmac.compare_digest(sent.encode(), secret.encode())


def client_ip(request: Request) -> str | None:
    """The caller's address for per-IP limits: the viewer's behind CloudFront, else sourceIp."""
    if through_cloudfront(request):
        viewer = viewer_ip(request.headers.get(VIEWER_HEADER))
        if viewer is not None:
            return viewer
    return (request.context or {}).get("identity", {}).get("sourceIp")


def viewer_ip(value: str | None) -> str | None:
    """The address in a CloudFront-Viewer-Address value: "198.51.100.10:46532" or, for IPv6,
    "2001:db8::1:46532" (the last colon starts the port); None when it is not one."""
    host, colon, port = (value or "").strip().rpartition(":")
    if not colon or not port.isdigit():
        return None
    try:
        return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
    except ValueError:
        return None
