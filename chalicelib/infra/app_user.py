"""The application's own database user: reads and writes rows, nothing else.

Migrations (DDL) run as the master user; the API, the worker and the scheduled functions connect
as this user, whose password lives in its own secret (APP_DATABASE_SECRET_ARN at migration time,
DATABASE_SECRET_ARN for everyone else). A leaked app credential can change data but not the
schema, the grants or other databases.
"""

from __future__ import annotations

import re

PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def _checked(name: str, what: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{what} must match {_IDENTIFIER.pattern}: {name!r}")
    return name


def ensure(cur, user: str, password: str, database: str) -> None:
    """Create the user (or set its password to the secret's current one) with DML rights on
    `database` only. Idempotent: run at every deployment."""
    _checked(user, "database user")
    schema = _checked(database, "database name")
    cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
    cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
    cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@'%%'", (user,))
    # A schema name cannot be a query parameter; it matched _IDENTIFIER above.
    cur.execute(f"GRANT {PRIVILEGES} ON `{schema}`.* TO %s@'%%'", (user,))
