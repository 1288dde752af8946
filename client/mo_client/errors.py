"""The server's error envelope (`{"error": {code, message, details}}`) as typed exceptions.

Catch `ApiError` for any refusal, or a subclass for one kind: `QuotaExceeded` (and
`CreditsExhausted`, with `needed` and `available`), `RateLimited`
(with `retry_after`), `NotFound`, `ValidationFailed` (with `fields`), ...
"""

from __future__ import annotations

from typing import Any

import httpx


class MoError(Exception):
    """Anything this client raises on purpose."""


class ConnectionFailed(MoError):
    """The API could not be reached (refused, timed out, DNS)."""


class ApiError(MoError):
    """The API answered with an error envelope."""

    status: int = 0

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: httpx.Headers | None = None
    ):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or httpx.Headers()


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class QuotaExceeded(ApiError):
    status = 402


class CreditsExhausted(QuotaExceeded):
    """The job's estimated cost does not fit the credits left: `needed` and `available`
    micro-dollars (1 USD = 1 000 000)."""

    @property
    def needed(self) -> int | None:
        return self.details.get("needed") if isinstance(self.details, dict) else None

    @property
    def available(self) -> int | None:
        return self.details.get("available") if isinstance(self.details, dict) else None


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before with another request body."""


class InvalidState(Conflict):
    """The job is not in a state that allows this (e.g. canceling a finished job)."""


class Gone(ApiError):
    """It existed and is no more: e.g. an emailed link already used or expired."""

    status = 410


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class ValidationFailed(ApiError):
    status = 422

    @property
    def fields(self) -> dict[str, str]:
        """Field name -> what is wrong with it, from `details`."""
        items = self.details if isinstance(self.details, list) else []
        return {str(d.get("field")): str(d.get("message")) for d in items if isinstance(d, dict)}


class RateLimited(ApiError):
    status = 429

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (its Retry-After header)."""
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(ApiError):
    """A 5xx: not the caller's fault."""

    status = 500


class ServiceUnavailable(ServerError):
    status = 503


_BY_STATUS: dict[int, type[ApiError]] = {
    c.status: c
    for c in (
        BadRequest,
        Unauthorized,
        QuotaExceeded,
        Forbidden,
        NotFound,
        Conflict,
        Gone,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        RateLimited,
        ServiceUnavailable,
    )
}
_BY_CODE: dict[str, type[ApiError]] = {
    "credits_exhausted": CreditsExhausted,
    "idempotency_key_reused": IdempotencyKeyReused,
    "invalid_state": InvalidState,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def from_response(response: httpx.Response) -> ApiError:
    """The typed exception for an error response (any body; the envelope when there is one)."""
    status = response.status_code
    code, message, details = f"http_{status}", response.reason_phrase or "Error", None
    try:
        envelope = response.json().get("error")
        code, message, details = envelope["code"], envelope["message"], envelope.get("details")
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    error = cls(status, code, message, details, response.headers)
    error.status = status
    return error
