"""Account rules: signup, login, the caller's profile and plan, API keys."""
from __future__ import annotations

from datetime import datetime

from chalicelib import auth
from chalicelib.config import FREE_PLAN, Plan
from chalicelib.db import api_keys, audit, jobs, users
from chalicelib.errors import Conflict, NotFound, Unauthorized
from chalicelib.ids import iso, utcnow
from chalicelib.models import (ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, Credentials, Me,
                               PlanInfo, TokenReply, Usage, User)


def _user(row: dict) -> User:
    return User(id=row["id"], email=row["email"], created_at=iso(row["created_at"]))


def _token_reply(row: dict) -> TokenReply:
    token, ttl = auth.issue_access_token(row["id"])
    return TokenReply(user=_user(row), access_token=token, expires_in=ttl)


def signup(body: Credentials, ip: str | None) -> TokenReply:
    email = body.email.lower()
    try:
        row = users.create(email, auth.hash_password(body.password))
    except users.EmailTaken:
        raise Conflict("An account with this email already exists", code="email_taken") from None
    audit.record("user.signup", user_id=row["id"], ip=ip)
    return _token_reply(row)


def login(body: Credentials, ip: str | None) -> TokenReply:
    row = users.by_email(body.email.lower())
    if not auth.verify_password(row["password_hash"] if row else None, body.password):
        audit.record("user.login_failed", user_id=row["id"] if row else None, ip=ip)
        raise Unauthorized("Email or password is wrong", code="invalid_credentials")
    if auth.needs_rehash(row["password_hash"]):
        users.set_password_hash(row["id"], auth.hash_password(body.password))
    return _token_reply(row)


def plan_of(user_id: str) -> Plan:
    """Everyone is on free until billing (Whop memberships) assigns a plan."""
    return FREE_PLAN


def billing_period(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month in UTC."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return start, end


def me(principal: auth.Principal) -> Me:
    row = users.by_id(principal.user_id)
    if row is None:
        raise NotFound("User not found")
    plan = plan_of(row["id"])
    start, end = billing_period(utcnow())
    usage = Usage(period_start=iso(start), period_end=iso(end),
                  jobs_used=jobs.count_in_period(row["id"], start, end),
                  running=jobs.count_running(row["id"]))
    return Me(id=row["id"], email=row["email"], plan=PlanInfo(**plan.as_dict()), usage=usage,
              membership=None)


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
