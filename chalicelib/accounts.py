"""Account rules: signup, login, the caller's profile and plan, API keys."""
from __future__ import annotations

import json

from chalicelib import auth, ratelimit
from chalicelib.billing.plans import entitlement
from chalicelib.config import get_settings
from chalicelib.db import api_keys, audit, billing, jobs, usage, users
from chalicelib.errors import Conflict, NotFound, Unauthorized
from chalicelib.ids import iso, utcnow
from chalicelib.models import (ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, AuditEntry,
                               AuditPage, Credentials, Me, Membership, PlanInfo,
                               ProviderUsageTotal, TokenReply, Usage, User)


def _user(row: dict) -> User:
    return User(id=row["id"], email=row["email"], created_at=iso(row["created_at"]))


def _token_reply(row: dict) -> TokenReply:
    token, ttl = auth.issue_access_token(row["id"])
    return TokenReply(user=_user(row), access_token=token, expires_in=ttl)


def signup(body: Credentials, ip: str | None) -> TokenReply:
    ratelimit.hit("auth", ip or "unknown", get_settings().rate_limit_auth)
    email = body.email.lower()
    try:
        row = users.create(email, auth.hash_password(body.password))
    except users.EmailTaken:
        raise Conflict("An account with this email already exists", code="email_taken") from None
    audit.record("user.signup", user_id=row["id"], ip=ip)
    for membership in billing.attach_memberships_by_email(row["id"], email):
        audit.record("membership.attached", user_id=row["id"], target=membership["id"],
                     details={"plan": membership["plan"], "active": bool(membership["active"])})
    return _token_reply(row)


def login(body: Credentials, ip: str | None) -> TokenReply:
    ratelimit.hit("auth", ip or "unknown", get_settings().rate_limit_auth)
    email = body.email.lower()
    ratelimit.check_login_allowed(email)
    row = users.by_email(email)
    if not auth.verify_password(row["password_hash"] if row else None, body.password):
        ratelimit.login_failed(email)
        audit.record("user.login_failed", user_id=row["id"] if row else None, ip=ip)
        raise Unauthorized("Email or password is wrong", code="invalid_credentials")
    ratelimit.login_succeeded(email)
    if auth.needs_rehash(row["password_hash"]):
        users.set_password_hash(row["id"], auth.hash_password(body.password))
    return _token_reply(row)


def me(principal: auth.Principal) -> Me:
    row = users.by_id(principal.user_id)
    if row is None:
        raise NotFound("User not found")
    ent = entitlement(row["id"], utcnow())
    usage = Usage(period_start=iso(ent.period_start), period_end=iso(ent.period_end),
                  jobs_used=billing.usage(row["id"], ent.period_start, ent.period_end),
                  running=jobs.count_running(row["id"]),
                  providers=provider_totals(row["id"], ent.period_start, ent.period_end))
    membership = None
    if ent.membership:
        membership = Membership(status=ent.membership["status"],
                                whop_membership_id=ent.membership["id"],
                                plan=ent.membership["plan"],
                                cancel_at_period_end=bool(ent.membership["cancel_at_period_end"]),
                                renewal_period_end=iso(ent.membership["renewal_period_end"]))
    return Me(id=row["id"], email=row["email"], plan=PlanInfo(**ent.plan.public()), usage=usage,
              membership=membership)


def provider_totals(user_id: str, start, end) -> list[ProviderUsageTotal]:
    """What the user's jobs spent per provider and purpose in the period (see StepUsage)."""
    return [ProviderUsageTotal(purpose=r["purpose"], provider=r["provider"], calls=r["calls"],
                               tokens_in=int(r["tokens_in"]), tokens_out=int(r["tokens_out"]),
                               characters=int(r["characters"]), images=int(r["images"]),
                               audio_s=int(r["audio_ms"]) / 1000, bytes=int(r["bytes"]),
                               wall_s=int(r["wall_ms"]) / 1000)
            for r in usage.totals(user_id, start, end)]


def create_api_key(principal: auth.Principal, body: ApiKeyCreate, ip: str | None) -> ApiKeyCreated:
    key, prefix, key_hash = auth.new_api_key()
    row = api_keys.create(principal.user_id, body.name, prefix, key_hash)
    audit.record("api_key.created", user_id=principal.user_id, ip=ip, target=row["id"])
    return ApiKeyCreated(id=row["id"], name=row["name"], key=key, prefix=prefix,
                         created_at=iso(row["created_at"]))


def list_api_keys(principal: auth.Principal, limit: int, cursor: str | None) -> ApiKeyList:
    rows = api_keys.page(principal.user_id, limit, cursor)
    items = [ApiKey(id=r["id"], name=r["name"], prefix=r["prefix"], created_at=iso(r["created_at"]),
                    last_used_at=iso(r["last_used_at"])) for r in rows[:limit]]
    return ApiKeyList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def delete_api_key(principal: auth.Principal, key_id: str, ip: str | None) -> None:
    if not api_keys.delete(principal.user_id, key_id):
        raise NotFound("API key not found")
    audit.record("api_key.revoked", user_id=principal.user_id, ip=ip, target=key_id)


def audit_log(principal: auth.Principal, limit: int, cursor: str | None) -> AuditPage:
    rows = audit.page(principal.user_id, limit, int(cursor) if cursor else None)
    items = [AuditEntry(id=str(r["id"]), action=r["action"], target=r["target"], ip=r["ip"],
                        details=json.loads(r["details"]) if r["details"] else None,
                        at=iso(r["created_at"])) for r in rows[:limit]]
    return AuditPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)
