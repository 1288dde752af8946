"""Versioned SQL migrations, applied once each and recorded in `schema_migrations`.

Run: `python -m chalicelib.infra.migrate`. Safe to run concurrently (a named MySQL lock) and
repeatedly (applied versions are skipped).

The SQL is what MariaDB (local) and Aurora MySQL 8 (AWS) both accept: `CREATE TABLE IF NOT
EXISTS`, but a plain `ALTER TABLE ... ADD COLUMN` (`ADD COLUMN IF NOT EXISTS` is MariaDB's alone).
DDL commits on its own, so a run that dies half way through a file leaves some statements
applied; on the next run those fail with "duplicate column" or "duplicate key name", which here
means "already done" (one ALTER statement is all or nothing), and the file goes on.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import cast

import pymysql

from chalicelib.core.settings import get_settings
from chalicelib.infra.db import connect

MIGRATIONS = Path(__file__).with_name("migrations")
ALREADY_APPLIED = {1060, 1061}  # ER_DUP_FIELDNAME, ER_DUP_KEYNAME: a re-run of an applied ALTER


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
                for statement in statements(path.read_text()):
                    _apply(cur, statement)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
            cur.execute("DO RELEASE_LOCK('schema_migrations')")
    finally:
        conn.close()
    return applied


def _apply(cur, statement: str) -> None:
    try:
        cur.execute(statement)
    except pymysql.err.MySQLError as exc:
        if exc.args[0] not in ALREADY_APPLIED:
            raise


if __name__ == "__main__":
    names = migrate()
    print(f"migrations applied: {', '.join(names) if names else 'none (up to date)'}", file=sys.stderr)
