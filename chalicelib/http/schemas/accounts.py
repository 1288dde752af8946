"""Schemas of accounts: credentials, links, the caller's profile and usage, API keys, provider keys, the audit log."""

import re
from enum import Enum
from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.billing import Credits, PlanInfo
from chalicelib.http.schemas.common import ApiKeyId, AuditCursor, BaseUrl, PageQuery, Strict


def _valid_email(value: str) -> str:
    """pydantic's EmailStr, but with email-validator loaded on first use (cold start)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


def _email_schema(schema: dict) -> None:
    """`format: email`, less the special-use domains (.test, .local, ...) email-validator refuses,
    taken from its own list when the document is built."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    names = "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)
        for name in SPECIAL_USE_DOMAIN_NAMES
    )
    schema.update({"format": "email", "not": {"pattern": f"[@.]({names})$"}})


class Credentials(Strict):
    email: str = Field(max_length=320, json_schema_extra=_email_schema)
    password: str = Field(min_length=10, max_length=1024)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _valid_email(value)


class User(Model):
    id: str
    email: str
    created_at: str
    email_verified: bool = Field(False, description="The owner opened the link mailed to this address")


class LinkToken(Strict):
    """The token of a link mailed by the API (the `token` query parameter of the link)."""

    token: str = Field(min_length=16, max_length=200)


class PasswordResetRequest(Strict):
    email: str = Field(max_length=320, json_schema_extra=_email_schema)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _valid_email(value)


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=16, max_length=200)
    password: str = Field(min_length=10, max_length=1024)


class EmailVerified(Model):
    user: User


class TokenReply(Model):
    user: User
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class ProviderUsageTotal(Model):
    """One provider's spend for one purpose over the period (summed StepUsage)."""

    purpose: str
    provider: str
    calls: int
    tokens_in: int
    tokens_out: int
    characters: int
    images: int
    audio_s: float
    bytes: int
    wall_s: float
    cost_micros: int = Field(0, description="What the calls cost, all accounts (micro-dollars)")
    platform_micros: int = Field(0, description="Of which on the platform's accounts (charged in credits)")


class Usage(Model):
    period_start: str
    period_end: str
    jobs_used: int
    running: int
    providers: list[ProviderUsageTotal] = Field(default_factory=list)


class Membership(Model):
    status: str
    whop_membership_id: str
    plan: str
    cancel_at_period_end: bool
    renewal_period_end: str | None


class Me(Model):
    id: str
    email: str
    email_verified: bool = Field(
        False,
        description="Unverified accounts use the free plan; "
        "memberships attach by email only once it is verified",
    )
    plan: PlanInfo
    usage: Usage
    membership: Membership | None
    operator: bool = Field(
        False, description="This session holds the operator role (the /v1/admin routes answer it)"
    )
    credits: Credits | None = Field(None, description="Platform AI credits")


class ApiKeyScope(str, Enum):
    """What an API key may do; a session (access token) may do everything."""

    full = "full"  #: everything the owner may do, as a session
    jobs = "jobs"  #: jobs, uploads and reads; never a credential write (it cannot mint another key)


_SCOPE = Field(
    ApiKeyScope.full,
    description="`jobs`: the key may run jobs, upload and read, but not create API keys, "
    "webhook endpoints or provider keys (403 `insufficient_scope`)",
)


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    scope: ApiKeyScope = _SCOPE


class ApiKey(Model):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    scope: ApiKeyScope = _SCOPE


class ApiKeyCreated(Model):
    id: str
    name: str
    key: str
    prefix: str
    created_at: str
    scope: ApiKeyScope = _SCOPE


class ApiKeyList(Model):
    items: list[ApiKey]
    next_cursor: str | None


class ProviderKeyPut(Strict):
    api_key: str = Field(min_length=8, max_length=500, pattern=r"^\S+$")
    base_url: BaseUrl | None = Field(
        None,
        description="Another server speaking the provider's API, e.g. Ollama or vLLM for openai (not for pexels)",
    )


class ProviderKey(Model):
    provider: str
    last4: str
    base_url: str | None
    updated_at: str


class ProviderKeyList(Model):
    items: list[ProviderKey]
    next_cursor: str | None = None


class AuditEntry(Model):
    id: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any] | None
    at: str


class AuditPage(Model):
    items: list[AuditEntry]
    next_cursor: str | None


class ApiKeysQuery(PageQuery):
    cursor: ApiKeyId | None = Field(None, description="`next_cursor` of the previous page")


class AuditQuery(PageQuery):
    cursor: AuditCursor | None = Field(None, description="`next_cursor` of the previous page")
