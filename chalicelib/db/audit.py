"""SQL for the audit log: who did what, when, from where."""
from __future__ import annotations

import json
from typing import Any

from chalicelib import db
from chalicelib.ids import utcnow


def record(action: str, *, user_id: str | None, ip: str | None = None, target: str | None = None,
           details: dict[str, Any] | None = None) -> None:
    db.execute("INSERT INTO audit_log (user_id, action, target, ip, details, created_at)"
               " VALUES (%s, %s, %s, %s, %s, %s)",
               (user_id, action, target, ip, json.dumps(details) if details else None, utcnow()))
