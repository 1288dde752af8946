"""The one error hierarchy. `chalicelib.http.plumbing` maps it to `{"error": {...}}` replies.

ApiError derives from ChaliceUnhandledError because that is the only exception Chalice lets
through to middleware; every other one it turns into its own 500 body first.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError


class ApiError(ChaliceUnhandledError):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class QuotaExceeded(ApiError):
    status, code = 402, "quota_exceeded"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Gone(ApiError):
    status, code = 410, "gone"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class Unavailable(ApiError):
    status, code = 503, "unavailable"
