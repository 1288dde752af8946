"""Who may use the /v1/admin routes: checked first by every one of them."""

from __future__ import annotations

from chalicelib.accounts import users
from chalicelib.accounts.auth import Principal
from chalicelib.core.errors import Forbidden


def require_operator(principal: Principal) -> Principal:
    """The caller, if their access token carries the operator role and their row still holds it
    (auth.authenticate checks both); 403 `forbidden` for everyone else, API keys included: an
    operator's powers need a session, so a leaked key can't read every customer."""
    if principal.role != users.OPERATOR:
        raise Forbidden("This is for the service's operators", code="forbidden")
    return principal
