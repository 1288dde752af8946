"""Versioned SQL migrations, applied once each and recorded in `schema_migrations`.

Run: `python -m chalicelib.db.migrate`. Safe to run concurrently (a named MySQL lock) and
repeatedly (applied versions are skipped).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import cast

from chalicelib.config import get_settings
from chalicelib.db import connect

MIGRATIONS = Path(__file__).with_name("migrations")


def statements(sql: str) -> list[str]:
    """Split a migration file on `;` at the end of a line (our files keep it that way)."""
    sql = re.sub(r"^\s*--.*$", "", sql, flags=re.MULTILINE)
    return [s.strip() for s in re.split(r";\s*$", sql, flags=re.MULTILINE) if s.strip()]


def migrate() -> list[str]:
    database = get_settings().mysql_params()["database"]
    server = connect(database=False)
    try:
        with server.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        server.close()

    applied: list[str] = []
    conn = connect()
    try:
        with conn.cursor() as cur:  # a DictCursor (see db.connect)
            cur.execute("SELECT GET_LOCK('schema_migrations', 60) AS got")
            if not cast(dict, cur.fetchone())["got"]:
                raise RuntimeError("another migration run holds the lock")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version VARCHAR(64) PRIMARY KEY,"
                " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row["version"] for row in cast(list[dict], cur.fetchall())}
            for path in sorted(MIGRATIONS.glob("*.sql")):
                version = path.stem
                if version in done:
                    continue
                # MySQL DDL commits implicitly, so each file must be written to be re-runnable
                # (IF NOT EXISTS) in case a run dies half way.
                for statement in statements(path.read_text()):
                    cur.execute(statement)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
            cur.execute("DO RELEASE_LOCK('schema_migrations')")
    finally:
        conn.close()
    return applied


if __name__ == "__main__":
    names = migrate()
    print(f"migrations applied: {', '.join(names) if names else 'none (up to date)'}", file=sys.stderr)
