"""Account rules: signup, login, the caller's profile and plan, API keys."""

from __future__ import annotations

from chalicelib.accounts import api_keys, auth, email_links, notices, users
from chalicelib.accounts.email_links import Purpose
from chalicelib.billing import credits, packs, quota, usage
from chalicelib.billing import repository as billing
from chalicelib.billing.plans import Entitlement, entitlement
from chalicelib.core.errors import Conflict, Forbidden, Gone, NotFound, Unauthorized, Unavailable
from chalicelib.core.ids import iso, utcnow
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.accounts import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    AuditEntry,
    AuditPage,
    Credentials,
    EmailVerified,
    LinkToken,
    Me,
    Membership,
    PasswordResetConfirm,
    PasswordResetRequest,
    ProviderUsageTotal,
    TokenReply,
    Usage,
    User,
)
from chalicelib.http.schemas.billing import Credits, PlanInfo
from chalicelib.http.schemas.common import Accepted
from chalicelib.infra import audit, db, ratelimit
from chalicelib.jobs import repository as jobs


def _user(row: users.UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        created_at=iso(row.created_at),
        email_verified=row.email_verified_at is not None,
    )


def _existing(user_id: str) -> users.UserRow:
    row = users.by_id(user_id)
    if row is None:
        raise NotFound("User not found")
    return row


def _token_reply(row: users.UserRow) -> TokenReply:
    token, ttl = auth.issue_access_token(row.id, row.session_epoch, row.role)
    return TokenReply(user=_user(row), access_token=token, expires_in=ttl)


def signup(body: Credentials, ip: str | None) -> TokenReply:
    """The account works at once on the free plan; memberships bought with this address attach
    only when the owner opens the verification link we mail (see verify_email). An address that
    has an account answers 409 as the contract says (API.md), and its owner is mailed a note: the
    rate limits per source and per address keep probing slow, and the owner hears of it."""
    settings = get_settings()
    email = users.canonical_email(body.email)
    ratelimit.hit("auth", ip or "unknown", settings.rate_limit_auth)
    ratelimit.hit("email", ratelimit.address_key(email), settings.rate_limit_email)
    try:
        row = users.create(email, auth.hash_password(body.password))
    except users.EmailTaken:
        existing = users.by_email(email)
        if existing is not None:
            audit.record("user.signup_existing", user_id=existing.id, ip=ip)
            notices.signup_attempted(existing)
        raise Conflict("An account with this email already exists", code="email_taken") from None
    audit.record("user.signup", user_id=row.id, ip=ip)
    if not email_links.send(Purpose.verify_email, row.id, email):
        audit.record("user.verification_not_sent", user_id=row.id, ip=ip)  # resend later
    return _token_reply(row)


def _attach_purchases(user_id: str, email: str) -> None:
    """What was bought on Whop with this address before an account proved it: memberships and
    credit packs."""
    for membership in billing.attach_memberships_by_email(user_id, email):
        audit.record(
            "membership.attached",
            user_id=user_id,
            target=membership.id,
            details={"plan": membership.plan, "active": membership.active},
        )
    for topup in packs.attach_by_email(user_id, email):
        audit.record(
            "credits.topup_attached",
            user_id=user_id,
            target=topup.payment_id,
            details={"pack": topup.pack, "credits_micros": topup.amount_micros},
        )


def _redeem(cur, purpose: Purpose, token: str) -> users.UserRow:
    """The link's user, row-locked, the link spent; or the refusal (404 never sent, 410 spent,
    or sent to an address the account no longer has)."""
    link = email_links.redeem(cur, purpose, token)
    if link is None:
        raise email_links.refusal(cur, purpose, token)
    row = users.lock(cur, link.user_id)
    if row is None or row.email != link.email:
        raise Gone(
            "This link was sent to an address the account no longer uses",
            code="invalid_link",
            details={"reason": "address_changed"},
        )
    return row


def verify_email(principal: auth.Principal, body: LinkToken, ip: str | None) -> EmailVerified:
    """Signed in: the link proves the mailbox, the session the password, and only both together
    verify (a mail scanner or a curious click on someone else's signup link verifies nothing).
    The first verification also retires every credential made before it (issue 23)."""
    ratelimit.hit("auth", ip or "unknown", get_settings().rate_limit_auth)
    with db.transaction() as cur:
        row = _redeem(cur, Purpose.verify_email, body.token)
        if row.id != principal.user_id:  # raised inside the transaction: the link stays unused
            raise Forbidden(
                "This link was sent for another account; sign in as that account to use it",
                code="invalid_link",
                details={"reason": "other_account"},
            )
        first = row.email_verified_at is None
        users.mark_verified(cur, row.id)
        removed = users.retire_credentials(cur, row.id) if first else None
    audit.record("user.email_verified", user_id=row.id, ip=ip)
    if removed is not None:
        _record_retired(row.id, removed, ip)
        _attach_purchases(row.id, row.email)
    return EmailVerified(user=_user(_existing(row.id)))


def _record_retired(user_id: str, removed: dict[str, int], ip: str | None) -> None:
    if any(removed.values()):
        audit.record("user.credentials_retired", user_id=user_id, ip=ip, details=removed)


def resend_verification(principal: auth.Principal, ip: str | None) -> Accepted:
    row = _existing(principal.user_id)
    if row.email_verified_at is not None:
        raise Conflict("This email address is already verified", code="already_verified")
    ratelimit.hit("email", row.id, get_settings().rate_limit_email)
    if not email_links.send(Purpose.verify_email, row.id, row.email):
        raise Unavailable("The email could not be sent; try again later", code="email_unavailable")
    audit.record("user.verification_sent", user_id=row.id, ip=ip)
    return Accepted(message=f"A new verification link was sent to {row.email}")


def request_password_reset(body: PasswordResetRequest, ip: str | None) -> Accepted:
    """Always the same answer, whether or not the address has an account (no enumeration); the
    per-address limit counts unknown addresses too, so a 429 reveals nothing either."""
    settings = get_settings()
    email = users.canonical_email(body.email)
    ratelimit.hit("auth", ip or "unknown", settings.rate_limit_auth)
    ratelimit.hit("email", ratelimit.address_key(email), settings.rate_limit_email)
    row = users.by_email(email)
    if row is None:
        # One SES call either way, so the reply takes as long (timing told accounts apart)
        notices.no_account(email)
        return Accepted(message="If an account uses this address, a reset link is on its way")
    sent = email_links.send(Purpose.password_reset, row.id, email)
    audit.record(
        "user.password_reset_requested" if sent else "user.password_reset_not_sent",
        user_id=row.id,
        ip=ip,
    )
    return Accepted(message="If an account uses this address, a reset link is on its way")


def confirm_password_reset(body: PasswordResetConfirm, ip: str | None) -> TokenReply:
    """New password; every access token issued before stops working (the session epoch moves)
    and so does every other reset link, and every API key, webhook endpoint and provider key made
    before is deleted (the credential epoch moves). The link also proves the address."""
    ratelimit.hit("auth", ip or "unknown", get_settings().rate_limit_auth)
    password_hash = auth.hash_password(body.password)  # slow: before taking any row lock
    with db.transaction() as cur:
        row = _redeem(cur, Purpose.password_reset, body.token)
        users.reset_password(cur, row.id, password_hash)
        users.mark_verified(cur, row.id)
        removed = users.retire_credentials(cur, row.id)
        email_links.retire(cur, Purpose.password_reset, row.id)
    audit.record("user.password_reset", user_id=row.id, ip=ip)
    _record_retired(row.id, removed, ip)
    if row.email_verified_at is None:
        audit.record("user.email_verified", user_id=row.id, ip=ip)
        _attach_purchases(row.id, row.email)
    return _token_reply(_existing(row.id))


def login(body: Credentials, ip: str | None) -> TokenReply:
    ratelimit.hit("auth", ip or "unknown", get_settings().rate_limit_auth)
    email = users.canonical_email(body.email)
    ratelimit.check_login_allowed(email, ip)
    row = users.by_email(email)
    # verified against a dummy hash when the email is unknown: as slow either way
    verified = auth.verify_password(row.password_hash if row else None, body.password)
    if row is None or not verified:
        ratelimit.login_failed(email, ip)
        audit.record("user.login_failed", user_id=row.id if row else None, ip=ip)
        raise Unauthorized("Email or password is wrong", code="invalid_credentials")
    ratelimit.login_succeeded(email, ip)
    if row.suspended_at is not None:
        raise Forbidden("This account is suspended; contact support", code="account_suspended")
    if auth.needs_rehash(row.password_hash):
        users.set_password_hash(row.id, auth.hash_password(body.password))
    return _token_reply(row)


def usage_and_membership(user_id: str, ent: Entitlement) -> tuple[Usage, Membership | None]:
    """The period's usage and the membership behind the plan, as `me` and the operator see them."""
    usage = Usage(
        period_start=iso(ent.period_start),
        period_end=iso(ent.period_end),
        jobs_used=quota.period_usage(user_id, ent.period_start, ent.period_end),
        running=jobs.count_running(user_id),
        providers=provider_totals(user_id, ent.period_start, ent.period_end),
    )
    m = ent.membership
    membership = (
        Membership(
            status=m.status,
            whop_membership_id=m.id,
            plan=m.plan,
            cancel_at_period_end=m.cancel_at_period_end,
            renewal_period_end=iso(m.renewal_period_end),
        )
        if m
        else None
    )
    return usage, membership


def me(principal: auth.Principal) -> Me:
    row = _existing(principal.user_id)
    ent = entitlement(row.id, utcnow())
    usage, membership = usage_and_membership(row.id, ent)
    return Me(
        id=row.id,
        email=row.email,
        email_verified=row.email_verified_at is not None,
        plan=PlanInfo(**ent.plan.public()),
        usage=usage,
        membership=membership,
        operator=principal.role == users.OPERATOR,
        credits=credits_of(row.id, ent),
    )


def credits_of(user_id: str, ent: Entitlement) -> Credits:
    found = credits.as_of(user_id, ent.period_start, ent.plan.monthly_credits_micros)  # read only
    return Credits(
        monthly_micros=ent.plan.monthly_credits_micros,
        allowance_micros=found.allowance_micros,
        topup_micros=found.topup_micros,
        reserved_micros=found.reserved_micros,
        available_micros=found.available_micros,
    )


def provider_totals(user_id: str, start, end) -> list[ProviderUsageTotal]:
    """What the user's jobs spent per provider and purpose in the period (see StepUsage)."""
    return [
        ProviderUsageTotal(
            purpose=r.purpose,
            provider=r.provider,
            calls=r.calls,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            characters=r.characters,
            images=r.images,
            audio_s=r.audio_ms / 1000,
            bytes=r.bytes,
            wall_s=r.wall_ms / 1000,
            cost_micros=r.cost_micros,
            platform_micros=r.platform_micros,
        )
        for r in usage.totals(user_id, start, end)
    ]


def create_api_key(principal: auth.Principal, body: ApiKeyCreate, ip: str | None) -> ApiKeyCreated:
    settings = get_settings()
    auth.require_credential_writer(principal)
    ratelimit.credential_write(principal.user_id)
    key, prefix, key_hash = auth.new_api_key()
    try:
        row = api_keys.create(
            principal.user_id, body.name, prefix, key_hash, settings.max_api_keys_per_user, body.scope.value
        )
    except api_keys.LimitReached:
        raise Conflict(
            f"You already have {settings.max_api_keys_per_user} API keys; delete one first",
            code="api_key_limit_reached",
            details={"limit": settings.max_api_keys_per_user},
        ) from None
    audit.record("api_key.created", user_id=principal.user_id, ip=ip, target=row.id)
    notices.credential_created(principal.user_id, "API key", f"{row.name!r}, {prefix}...", ip)
    return ApiKeyCreated(
        id=row.id, name=row.name, key=key, prefix=prefix, created_at=iso(row.created_at), scope=body.scope
    )


def list_api_keys(principal: auth.Principal, limit: int, cursor: str | None) -> ApiKeyList:
    rows = api_keys.page(principal.user_id, limit, cursor)
    items = [
        ApiKey(
            id=r.id,
            name=r.name,
            prefix=r.prefix,
            created_at=iso(r.created_at),
            last_used_at=iso(r.last_used_at),
            scope=auth.Scope(r.scope),
        )
        for r in rows[:limit]
    ]
    return ApiKeyList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def delete_api_key(principal: auth.Principal, key_id: str, ip: str | None) -> None:
    ratelimit.credential_write(principal.user_id)
    if not api_keys.delete(principal.user_id, key_id):
        raise NotFound("API key not found")
    audit.record("api_key.revoked", user_id=principal.user_id, ip=ip, target=key_id)


def audit_log(principal: auth.Principal, limit: int, cursor: str | None) -> AuditPage:
    rows = audit.page(principal.user_id, limit, int(cursor) if cursor else None)
    items = [
        AuditEntry(
            id=str(r.id),
            action=r.action,
            target=r.target,
            ip=r.ip,
            details=r.details,
            at=iso(r.created_at),
        )
        for r in rows[:limit]
    ]
    return AuditPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)
