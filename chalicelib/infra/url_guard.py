"""Checks for URLs our servers call on a user's behalf (their provider's base_url, their webhook
endpoints). The calls themselves go through `chalicelib.infra.outbound`.

Only global addresses are called: never private, shared (100.64.0.0/10), link-local (cloud
metadata), multicast, reserved or loopback ones, nor IPv6 forms that embed such an IPv4 address;
the local stage may call loopback too (local servers, the tests' fakes). A host name is checked
when the call is made, and the connection goes to the very address that was checked
(`outbound.PinnedTransport`): the name is resolved once, so DNS rebinding has no window, and a
failed lookup refuses the call.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not ours to call
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits


class UnsafeDestination(Exception):
    """The URL's host is (or resolves to) an address we never call, or does not resolve."""


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def allowed(address: Address, allow_loopback: bool) -> bool:
    """True for an address we may call: global (and not multicast), or loopback when allowed."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return allowed(inner, allow_loopback)
    if address.is_loopback:
        return allow_loopback
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED:
        return False
    return address.is_global and not address.is_multicast


def _loopback_allowed() -> bool:
    return get_settings().stage == "local"


def _resolve(host: str) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def checked_address(host: str) -> str:
    """The address to connect to for `host`; UnsafeDestination when any address it resolves to
    is not allowed, or when it does not resolve (fail closed)."""
    host = host.strip("[]")
    try:
        candidates = [host] if literal(host) else _resolve(host)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise UnsafeDestination(f"{host} could not be resolved ({type(exc).__name__})") from None
    if not candidates:
        raise UnsafeDestination(f"{host} could not be resolved")
    addresses = [ipaddress.ip_address(c.split("%", 1)[0]) for c in candidates]
    if not all(allowed(a, _loopback_allowed()) for a in addresses):
        raise UnsafeDestination(f"{host} resolves to a non-public address")
    return str(addresses[0])


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_outbound(url: str, field: str) -> None:
    """When a URL is saved: https (loopback http in the local stage), and no literal address or
    name we would never call. Names are resolved at call time (see outbound.PinnedTransport)."""
    parsed = urlparse(url)
    local_stage = _loopback_allowed()
    host = (parsed.hostname or "").rstrip(".").lower()
    address = literal(host)
    loopback = host == "localhost" or host.endswith(".localhost") or bool(address and address.is_loopback)
    problems = []
    if parsed.scheme != "https" and not (local_stage and loopback):
        problems.append("must use https")
    if (address and not allowed(address, local_stage)) or (loopback and not local_stage):
        problems.append("must not be a private, loopback or link-local address")
    if problems:
        raise ValidationFailed(
            f"{field} is not allowed",
            details=[{"field": field, "type": "url", "message": "; ".join(problems)}],
        )
