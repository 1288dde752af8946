"""The operator role: granted and revoked by `python -m chalicelib.runtime.ops grant-operator`
and by another operator (/v1/admin/operators), audited either way. Access tokens carry it as the
`role` claim; auth.authenticate drops the claim once the row no longer holds the role."""

from __future__ import annotations

from chalicelib.accounts import users
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.infra import audit


def _by(by: str | None) -> dict[str, str]:
    return {"by": by or "ops command"}


def grant(email: str, by: str | None, ip: str | None = None) -> users.UserRow:
    """`by`: the granting operator's id, None for the command. The next login carries the role."""
    row = users.by_email(email.strip().lower())
    if row is None:
        raise NotFound("No account with this email")
    if users.set_role(row.id, users.OPERATOR):
        audit.record("operator.granted", user_id=by, target=row.id, ip=ip, details=_by(by))
    return row


def revoke(user_id: str, by: str | None, ip: str | None = None) -> users.UserRow:
    """Ends the role at once: tokens that carry it stop opening the /v1/admin routes."""
    if by is not None and user_id == by:
        raise Conflict("Operators can't revoke their own role", code="cannot_revoke_self")
    row = users.by_id(user_id)
    if row is None:
        raise NotFound("No such operator")
    if users.set_role(row.id, users.CUSTOMER):
        audit.record("operator.revoked", user_id=by, target=row.id, ip=ip, details=_by(by))
    return row
