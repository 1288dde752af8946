"""The one MySQL connection helper: a connection per thread, reused while it lives.

Lambda runs one request at a time per container and the worker runs pipeline steps in threads,
so a thread-local connection is both cheap and safe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from chalicelib.core.settings import get_settings

if TYPE_CHECKING:
    import pymysql.connections

# pymysql is imported on first use (~20 ms of the API's cold start otherwise).

_local = threading.local()
_secrets: dict[str, dict[str, str]] = {}  # DATABASE_SECRET_ARN -> {user, password}
ACCESS_DENIED = 1045


def secret_credentials(arn: str, refresh: bool = False) -> dict[str, str]:
    """User and password from the (RDS-managed, rotating) secret; fetched once, cached."""
    if refresh or arn not in _secrets:
        from chalicelib.infra import aws

        secret = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        _secrets[arn] = {"user": secret["username"], "password": secret["password"]}
    return _secrets[arn]


def connect(database: bool = True) -> pymysql.connections.Connection:
    settings = get_settings()
    params = settings.mysql_params()
    if not database:
        params.pop("database")
    arn = settings.database_secret_arn
    if arn:
        params.update(secret_credentials(arn))
    import pymysql

    try:
        return _open(params)
    except pymysql.err.OperationalError as exc:
        if not arn or exc.args[0] != ACCESS_DENIED:
            raise
        return _open({**params, **secret_credentials(arn, refresh=True)})  # rotated since


def _open(params: dict) -> pymysql.connections.Connection:
    import pymysql.cursors

    return pymysql.connect(
        **params,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=5,
        read_timeout=30,
        write_timeout=30,
        cursorclass=pymysql.cursors.DictCursor,
        init_command="SET time_zone = '+00:00'",
    )


def connection() -> pymysql.connections.Connection:
    conn = getattr(_local, "conn", None)
    if conn is not None and conn.open:
        import pymysql

        try:
            conn.ping()
            return conn
        except pymysql.Error:
            close()
    conn = _local.conn = connect()
    return conn


def close() -> None:
    conn = getattr(_local, "conn", None)
    if conn is not None:
        import pymysql

        _local.conn = None
        try:
            conn.close()
        except pymysql.Error:
            pass


def integrity_error() -> type[Exception]:
    """pymysql.IntegrityError, for `except` clauses (evaluated only when something was raised)."""
    import pymysql

    return pymysql.IntegrityError


@contextmanager
def transaction() -> Iterator[Any]:
    """A cursor inside BEGIN ... COMMIT, rolled back on any exception."""
    conn = connection()
    conn.begin()
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


class Row:
    """Base of the typed rows (frozen dataclasses, one per table): `Cls.of(row)` builds one from a
    DictCursor row, `Cls.maybe(row)` also takes None. Only the columns the class declares are
    kept (a column a later migration adds doesn't break readers that don't use it); the
    `json_columns` are decoded, and `_decode` is where a class turns the rest into its types."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]  # every subclass is a dataclass
    json_columns: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}
        values = {}
        for column, value in row.items():
            if column in known:
                if column in cls.json_columns and isinstance(value, (str, bytes)):
                    value = json.loads(value)
                values[column] = value
        return cls(**cls._decode(values))

    @classmethod
    def maybe(cls, row: dict[str, Any] | None) -> Self | None:
        return None if row is None else cls.of(row)

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The columns' values as the fields' types (enums, bools, defaults for NULLs)."""
        return values


def fetch_one(sql: str, args: Any = None) -> dict[str, Any] | None:
    """One row as a dict (DictCursor), or None."""
    with connection().cursor() as cur:
        cur.execute(sql, args)
        return cast(dict[str, Any] | None, cur.fetchone())


def count(sql: str, args: Any = None) -> int:
    """The `n` of a `SELECT COUNT(*) AS n ...` (which always answers one row)."""
    with connection().cursor() as cur:
        cur.execute(sql, args)
        return int(cast(dict[str, Any], cur.fetchone())["n"])


def fetch_all(sql: str, args: Any = None) -> list[dict]:
    with connection().cursor() as cur:
        cur.execute(sql, args)
        return cast(list[dict], list(cur.fetchall()))


def execute(sql: str, args: Any = None) -> int:
    """Run one statement in autocommit mode; returns the affected row count."""
    with connection().cursor() as cur:
        return cur.execute(sql, args)
