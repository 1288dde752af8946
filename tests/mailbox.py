"""Read the messages the app sent through SES back from the AWS emulator.

The moto server lists them in `/moto-api/data.json` (`ses.Message`); LocalStack serves them at
`/_aws/ses`. Either way: real SES calls over HTTP, read back from the emulator that received them.
"""
from __future__ import annotations

import os
import re
import time
from urllib.parse import parse_qs, urlparse

import httpx

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")


def _moto_state() -> httpx.Response:
    """moto's state dump. It answers 500 while it walks an S3 object of a bucket deleted since
    (moto marks such an object on the way, so each try gets further): try until it answers."""
    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(f"{ENDPOINT}/moto-api/data.json", timeout=30)
        if response.status_code != 500 or time.monotonic() > deadline:
            return response


def messages_to(address: str) -> list[dict]:
    """{subject, body, source} of every message sent to `address`, oldest first."""
    moto = _moto_state()
    if moto.status_code == 200:
        return [{"subject": m["subject"], "body": m["body"], "source": m["source"]}
                for m in moto.json().get("ses", {}).get("Message", [])
                if address in m["destinations"].get("ToAddresses", [])]
    localstack = httpx.get(f"{ENDPOINT}/_aws/ses", params={"email": address}, timeout=10)
    localstack.raise_for_status()
    return [{"subject": m["Subject"], "body": m["Body"]["text_part"], "source": m["Source"]}
            for m in localstack.json()["messages"] if address in m["Destination"]["ToAddresses"]]


def last_link(address: str, path: str) -> tuple[str, str]:
    """(the link, its token) from the newest message to `address` holding a link to `path`."""
    for message in reversed(messages_to(address)):
        found = re.search(r"https?://\S+" + re.escape(path) + r"\?token=\S+", message["body"])
        if found:
            url = found.group(0)
            return url, parse_qs(urlparse(url).query)["token"][0]
    raise AssertionError(f"no message with a {path} link was sent to {address}")
