"""Read back the mail the app sent through SES, from the emulator that received it.

Each test session runs an SES emulator of its own (a moto server on a free loopback port, in the
test process; conftest points the app at it with the SDKs' standard `AWS_ENDPOINT_URL_SES`). The
shared moto server on 4566 could only show sent mail through its state dump, which breaks for
good once any session has deleted a bucket (a moto bug), and would mix everyone's mail.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse


def _sent() -> list:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib.core.settings import get_settings

    return list(ses_backends[DEFAULT_ACCOUNT_ID][get_settings().aws_region].sent_messages)


def messages_to(address: str) -> list[dict]:
    """{subject, body, source} of every message sent to `address`, oldest first."""
    return [
        {"subject": m.subject, "body": m.body, "source": m.source}
        for m in _sent()
        if address in (m.destinations or {}).get("ToAddresses", [])
    ]


def last_link(address: str, path: str) -> tuple[str, str]:
    """(the link, its token) from the newest message to `address` holding a link to `path`."""
    for message in reversed(messages_to(address)):
        found = re.search(r"https?://\S+" + re.escape(path) + r"\?token=\S+", message["body"])
        if found:
            url = found.group(0)
            return url, parse_qs(urlparse(url).query)["token"][0]
    raise AssertionError(f"no message with a {path} link was sent to {address}")
