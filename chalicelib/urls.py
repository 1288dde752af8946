"""Checks for URLs our servers will call on a user's behalf (their provider's base_url, their
webhook endpoints): no plain HTTP to the internet, and no link-local or private addresses
(cloud metadata, our own VPC) outside the local stage."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from chalicelib.config import get_settings
from chalicelib.errors import ValidationFailed


def check_outbound(url: str, field: str) -> None:
    parsed = urlparse(url)
    local_stage = get_settings().stage == "local"
    try:
        address = ipaddress.ip_address(parsed.hostname or "")
    except ValueError:
        address = None
    loopback = parsed.hostname == "localhost" or bool(address and address.is_loopback)
    problems = []
    if parsed.scheme != "https" and not (local_stage and loopback):
        problems.append("must use https")
    if address and (address.is_link_local or (not local_stage and (
            address.is_private or address.is_loopback or address.is_reserved))):
        problems.append("must not be a private, loopback or link-local address")
    if problems:
        raise ValidationFailed(f"{field} is not allowed", details=[
            {"field": field, "type": "url", "message": "; ".join(problems)}])
