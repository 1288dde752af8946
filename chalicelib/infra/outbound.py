"""Every HTTP call our servers make to a URL a user chose (their provider's base_url, their
webhook endpoints): to the address that was checked (`PinnedTransport`), within ONE total
deadline (connect, TLS, headers and body together: httpx's own timeouts are per read, so a
server trickling a byte at a time would hold us forever), and with the response body capped
(streamed, and abandoned past the cap, so an endless body costs nothing).

Bodies are asked for and read without content encoding: a gzip bomb never gets inflated.
"""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chalicelib.infra import url_guard


class OutboundError(Exception):
    """The call did not produce a usable answer. `kind`: `timeout` (the deadline passed),
    `too_large` (the body went over the cap), `unreachable` (connection or protocol error),
    `blocked` (the destination is not allowed)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    content: bytes  # empty when the body went to a file (`save_to`)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return _json.loads(self.content)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """Connects to the address `url_guard.checked_address` approved, not to whatever the host name
    resolves to by then; TLS still sends the original name (SNI) and verifies the certificate
    against it, and the Host header keeps it too."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = await asyncio.to_thread(url_guard.checked_address, host)
        request.url = request.url.copy_with(host=address)  # the Host header was set from the name
        if request.url.scheme == "https" and not url_guard.literal(host):
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)


async def request_async(
    method: str,
    url: str,
    *,
    deadline_s: float,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | str | None = None,
    data: dict | None = None,
    files: dict | None = None,
    params: dict | None = None,
    save_to: Path | None = None,
    verify: Any = True,
) -> Reply:
    """One exchange, bounded; `max_bytes=0` reads no body at all (only the status matters).
    With `save_to`, a successful answer's body is streamed into that file instead of memory
    (the same cap; a file cut short by an error is removed)."""
    sent = {**(headers or {}), "accept-encoding": "identity"}
    try:
        async with (
            asyncio.timeout(deadline_s),
            httpx.AsyncClient(
                transport=PinnedTransport(verify=verify),
                timeout=deadline_s,
                follow_redirects=False,
                trust_env=False,
            ) as client,
            client.stream(
                method, url, headers=sent, json=json, content=content, data=data, files=files, params=params
            ) as response,
        ):
            if save_to is not None and response.is_success:
                await _save(response, max_bytes, save_to)
                return Reply(response.status_code, response.headers, b"")
            body = b"".join([c async for c in _capped(response, max_bytes)]) if max_bytes else b""
            return Reply(response.status_code, response.headers, body)
    except TimeoutError:
        raise OutboundError("timeout", f"no complete answer within {deadline_s:g} s") from None
    except url_guard.UnsafeDestination as exc:
        raise OutboundError("blocked", str(exc)) from None
    except httpx.TimeoutException:  # httpx's own (per phase) timeout hit first: same meaning
        raise OutboundError("timeout", f"no complete answer within {deadline_s:g} s") from None
    except httpx.HTTPError as exc:
        raise OutboundError("unreachable", f"cannot reach the server: {type(exc).__name__}") from None


def request(method: str, url: str, **kwargs: Any) -> Reply:
    """`request_async` for synchronous code (worker threads: no event loop runs there)."""
    return asyncio.run(request_async(method, url, **kwargs))


async def _capped(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    """The raw body's chunks, refused past `max_bytes` (declared or sent)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise OutboundError("too_large", f"the answer declares {declared} bytes, over the cap of {max_bytes}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise OutboundError("unreachable", "the answer has a content encoding; identity was asked")
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise OutboundError("too_large", f"the answer is over the cap of {max_bytes} bytes")
        yield chunk


async def _save(response: httpx.Response, max_bytes: int, path: Path) -> None:
    try:
        with open(path, "wb") as out:
            async for chunk in _capped(response, max_bytes):
                out.write(chunk)
    except BaseException:  # over the cap, the deadline, a broken connection: no partial file
        path.unlink(missing_ok=True)
        raise
