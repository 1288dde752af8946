"""Python client and `mo` command line for the media orchestrator API."""

from mo_client import errors, models
from mo_client.client import DEFAULT_API_URL, Client, Downloaded, UploadRejected
from mo_client.errors import (
    ApiError,
    Conflict,
    ConnectionFailed,
    CreditsExhausted,
    Forbidden,
    IdempotencyKeyReused,
    MoError,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)

__all__ = [
    "ApiError",
    "Client",
    "ConnectionFailed",
    "CreditsExhausted",
    "Conflict",
    "DEFAULT_API_URL",
    "Downloaded",
    "Forbidden",
    "IdempotencyKeyReused",
    "MoError",
    "NotFound",
    "QuotaExceeded",
    "RateLimited",
    "Unauthorized",
    "UploadRejected",
    "ValidationFailed",
    "errors",
    "models",
]
__version__ = "0.1.0"
