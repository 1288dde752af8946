"""What every area's schemas share: strict request bodies, id types, URLs, the error envelope, paging."""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, HttpUrl, UrlConstraints

from chalicelib.core.ids import id_pattern
from chalicelib.core.model_base import Model


class Strict(Model):
    """Request bodies: unknown fields are an error, so typos don't pass silently."""

    model_config = ConfigDict(extra="forbid")


JobId = Annotated[str, Field(pattern=id_pattern("job"), description="A job's id")]


UploadId = Annotated[str, Field(pattern=id_pattern("upl"), description="An upload's id")]


ApiKeyId = Annotated[str, Field(pattern=id_pattern("key"), description="An API key's id")]


WebhookEndpointId = Annotated[str, Field(pattern=id_pattern("whe"), description="A webhook endpoint's id")]


UserId = Annotated[str, Field(pattern=id_pattern("usr"), description="A user's id")]


# Audit entries are numbered; 19 digits keeps a cursor inside BIGINT.
AuditCursor = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", description="An audit entry's id")]


# A Redis stream id (`ms-seq`), ASCII digits only; 19 digits keeps each part inside 64 bits.
EventCursor = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,19}(-[0-9]{1,19})?$", description="An event's id (`0` or `0-0`: from the start)"
    ),
]


def _enum_of_providers(step: str | None, nullable: bool = False) -> Any:
    """The registry's providers (of a step, or those taking the user's own key) as the document's
    enum; read when the document is built, since plug-ins register on first use. The API checks
    names against the same registry (422 `unknown_provider`)."""

    def extra(schema: dict) -> None:
        from chalicelib.pipeline import providers

        names = list(providers.AVAILABLE[step]) if step else sorted(providers.KEYED_PROVIDERS)
        schema["enum"] = names + ([None] if nullable else [])

    return extra


ProviderName = Annotated[
    str, Field(json_schema_extra=_enum_of_providers(None), description="A provider that takes your own key")
]


def _fits(limit: int):
    """A URL's normalized form (punycode, a trailing slash) within `limit` characters."""

    def check(url: HttpUrl) -> HttpUrl:
        if len(str(url)) > limit:
            raise ValueError(f"the URL is longer than {limit} characters once normalized")
        return url

    return AfterValidator(check)


# Stored in VARCHAR(2000) / VARCHAR(500) columns.
WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=2000), _fits(2000)]


BaseUrl = Annotated[HttpUrl, UrlConstraints(max_length=500), _fits(500)]


class ErrorBody(Model):
    code: str
    message: str
    details: Any = None


class ErrorReply(Model):
    error: ErrorBody


class Accepted(Model):
    accepted: bool = True
    message: str


class Health(Model):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


class PageQuery(Model):
    limit: int = Field(20, ge=1, le=100, description="Items per page")


# A route's path parameter, by name -> its type (the document shows it; anything else is 404).
PATH_PARAMETERS: dict[str, Any] = {
    "job_id": JobId,
    "upload_id": UploadId,
    "key_id": ApiKeyId,
    "endpoint_id": WebhookEndpointId,
    "provider": ProviderName,
    "user_id": UserId,
}
