"""Migrations re-run safely after a run that died half way (MySQL DDL commits statement by
statement, and the SQL is MySQL 8's: no `ADD COLUMN IF NOT EXISTS` to lean on)."""

from __future__ import annotations

import pymysql
import pytest

from chalicelib.infra import db, migrate

HALF_APPLIED = ("0003_uploads", "0010_email_verification")  # ALTERs that add columns and an index


@pytest.fixture
def forgotten():
    """The versions' statements stay applied, but the run "died" before recording them."""
    db.execute("DELETE FROM schema_migrations WHERE version IN (%s, %s)", HALF_APPLIED)
    yield
    db.execute(
        "INSERT IGNORE INTO schema_migrations (version) VALUES (%s), (%s)",
        HALF_APPLIED,
    )


def _columns(table: str) -> list[str]:
    rows = db.fetch_all(
        "SELECT column_name AS name FROM information_schema.columns"
        " WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [row["name"] for row in rows]


def test_a_half_applied_migration_completes_on_the_next_run(forgotten):
    before = _columns("users"), _columns("jobs")
    assert migrate.migrate() == list(HALF_APPLIED)
    assert (_columns("users"), _columns("jobs")) == before  # nothing added twice, nothing lost
    recorded = db.fetch_all("SELECT version FROM schema_migrations WHERE version IN (%s, %s)", HALF_APPLIED)
    assert sorted(row["version"] for row in recorded) == list(HALF_APPLIED)
    assert migrate.migrate() == []


def test_other_errors_still_stop_the_run():
    with db.transaction() as cur, pytest.raises(pymysql.err.ProgrammingError):
        migrate._apply(cur, "ALTER TABLE no_such_table ADD COLUMN x INT")
