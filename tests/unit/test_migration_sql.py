"""The migrations are SQL both MariaDB (local) and Aurora MySQL 8 (AWS) accept."""

import re

import pytest

from chalicelib.infra.migrate import MIGRATIONS, statements

# MariaDB accepts these forms; MySQL 8 rejects them as syntax errors.
MARIADB_ONLY = re.compile(r"\b(ADD|DROP|MODIFY|CHANGE)\s+(COLUMN|INDEX|KEY)\s+IF\s+(NOT\s+)?EXISTS\b", re.I)
FILES = sorted(MIGRATIONS.glob("*.sql"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_no_migration_uses_mariadb_only_syntax(path):
    for statement in statements(path.read_text()):
        assert not MARIADB_ONLY.search(statement), f"{path.name}: MySQL 8 rejects: {statement[:120]}"
        assert not re.search(r"\bRETURNING\b", statement, re.I), f"{path.name}: RETURNING is MariaDB's"
