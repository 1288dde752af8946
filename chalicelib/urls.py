"""Checks for URLs our servers will call on a user's behalf (their provider's base_url, their
webhook endpoints): no plain HTTP to the internet, and no link-local or private addresses
(cloud metadata, our own VPC) outside the local stage."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from chalicelib.config import get_settings
from chalicelib.errors import ValidationFailed


class UnsafeDestination(Exception):
    """The URL's host resolves to an address we never call (DNS may have changed since it was
    saved: a rebinding attack)."""


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def check_resolved(url: str) -> None:
    """At call time, outside the local stage: every address the host resolves to is public."""
    if get_settings().stage == "local":
        return
    host = urlparse(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return  # the call itself fails with a clear transport error
    for *_, sockaddr in infos:
        if _internal(ipaddress.ip_address(sockaddr[0])):
            raise UnsafeDestination(f"{host} resolves to a non-public address")


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
    if address and (address.is_link_local or (not local_stage and _internal(address))):
        problems.append("must not be a private, loopback or link-local address")
    if problems:
        raise ValidationFailed(f"{field} is not allowed", details=[
            {"field": field, "type": "url", "message": "; ".join(problems)}])
