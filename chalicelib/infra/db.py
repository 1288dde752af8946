"""The one MySQL connection helper: a connection per thread, reused while it lives.

Lambda runs one request at a time per container and the worker runs pipeline steps in threads,
so a thread-local connection is both cheap and safe.

A lost connection (the server restarted, failed over, or dropped us) is replaced: a refused
connect is tried again with a short bounded backoff, a connection that hit a read-only server
(1290: an Aurora endpoint still reaching the demoted writer after a failover) is dropped, and a read outside a transaction is repeated
once on a fresh connection. A transaction is never resumed half-way: a statement that fails in
one fails the transaction (rolled back), and only a deadlock or lock-wait timeout retries it
whole, from BEGIN (`retries_conflicts`, `run_in_transaction`). What still fails is an outage
(chalicelib.infra.outage) for the caller: the API answers 503, a worker pauses the job.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, Self, TypeVar, cast

from chalicelib.core.settings import get_settings
from chalicelib.infra import outage
from chalicelib.infra.outage import Store

if TYPE_CHECKING:
    import pymysql.connections

# pymysql is imported on first use (~20 ms of the API's cold start otherwise).

RDS_CA_BUNDLE = Path(__file__).with_name("rds-ca-bundle.pem")  # in the zip and the worker image
_local = threading.local()
_secrets: dict[str, dict[str, str]] = {}  # DATABASE_SECRET_ARN -> {user, password}
ACCESS_DENIED = 1045
CONNECT_BUDGET_S = 1.0  # refused connects are retried for this long (an API request fails fast)
CONNECT_BACKOFF_S = 0.1
CONFLICT_ATTEMPTS = 4  # a deadlocked or lock-waiting transaction runs at most this many times
CONFLICT_BACKOFF_S = 0.05
P = ParamSpec("P")
T = TypeVar("T")


def _jittered(base: float) -> float:
    return random.uniform(base / 2, base)


def secret_credentials(arn: str, refresh: bool = False) -> dict[str, str]:
    """User and password from the (RDS-managed, rotating) secret; fetched once, cached."""
    if refresh or arn not in _secrets:
        from chalicelib.infra import aws

        secret = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        _secrets[arn] = {"user": secret["username"], "password": secret["password"]}
    return _secrets[arn]


def tls_params() -> dict:
    """pymysql's TLS arguments when DATABASE_TLS is on: the server's certificate verified
    against the pinned CA bundle, and its name against the host we asked for."""
    settings = get_settings()
    if not settings.database_tls:
        return {}
    return {
        "ssl_ca": settings.database_ca_bundle or str(RDS_CA_BUNDLE),
        "ssl_verify_cert": True,
        "ssl_verify_identity": True,
    }


def connect(database: bool = True) -> pymysql.connections.Connection:
    settings = get_settings()
    params = {**settings.mysql_params(), **tls_params()}
    if not database:
        params.pop("database")
    arn = settings.database_secret_arn
    if arn:
        params.update(secret_credentials(arn))
    import pymysql

    started, delay = time.monotonic(), CONNECT_BACKOFF_S
    while True:
        try:
            try:
                conn = _open(params)
            except pymysql.err.OperationalError as exc:
                if not arn or exc.args[0] != ACCESS_DENIED:
                    raise
                conn = _open({**params, **secret_credentials(arn, refresh=True)})  # rotated since
            outage.recovered(Store.mysql)
            return conn
        except pymysql.err.OperationalError as exc:
            lost = outage.mysql_code(exc) in outage.MYSQL_CONNECTION_LOST
            if not lost or time.monotonic() - started + delay > CONNECT_BUDGET_S:
                raise
            time.sleep(_jittered(delay))
            delay *= 2


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
            conn.ping(reconnect=False)  # a dead one is replaced below, with our backoff
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


def in_transaction() -> bool:
    return getattr(_local, "depth", 0) > 0


def _lost(exc: BaseException) -> bool:
    import pymysql

    return isinstance(exc, pymysql.err.InterfaceError) or (
        isinstance(exc, pymysql.err.MySQLError) and outage.mysql_code(exc) in outage.MYSQL_CONNECTION_LOST
    )


def _stale(exc: BaseException) -> bool:
    """The connection must go: lost, or talking to a server that became read-only (failover)."""
    import pymysql

    return _lost(exc) or (
        isinstance(exc, pymysql.err.MySQLError) and outage.mysql_code(exc) in outage.MYSQL_READ_ONLY
    )


def _is_conflict(exc: BaseException) -> bool:
    import pymysql

    return isinstance(exc, pymysql.err.MySQLError) and outage.mysql_code(exc) in outage.MYSQL_CONFLICT_CODES


def _begin() -> pymysql.connections.Connection:
    """A connection in BEGIN: a connection found dead at BEGIN (nothing sent yet) is replaced once."""
    conn = connection()
    try:
        conn.begin()
    except Exception as exc:
        if not _lost(exc):
            raise
        close()
        conn = connection()
        conn.begin()
    return conn


@contextmanager
def transaction() -> Iterator[Any]:
    """A cursor inside BEGIN ... COMMIT, rolled back on any exception (never resumed half-way:
    to retry a deadlocked one whole, see retries_conflicts)."""
    conn = _begin()
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException as exc:
        if isinstance(exc, Exception) and _lost(exc):
            close()  # the server rolled it back with the connection
        else:
            try:
                conn.rollback()
            except Exception:  # the connection died meanwhile: the server rolled it back
                close()
            else:
                if isinstance(exc, Exception) and _stale(exc):
                    close()  # a read-only server (failed over): the next BEGIN finds the writer
        raise
    finally:
        _local.depth -= 1


def retries_conflicts(func: Callable[P, T]) -> Callable[P, T]:
    """Run `func` (whose work is one transaction, side effects after its commit) again, whole,
    when its transaction deadlocked (1213) or timed out waiting for a lock (1205): both were rolled
    back, so nothing of the first run stands. Inside another transaction it never retries (the
    outer one is what must start again)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if attempt == CONFLICT_ATTEMPTS or in_transaction() or not _is_conflict(exc):
                    raise
                time.sleep(_jittered(CONFLICT_BACKOFF_S * 2**attempt))
        raise AssertionError("unreachable")

    return run


@retries_conflicts
def run_in_transaction(body: Callable[[Any], T]) -> T:
    """`body(cursor)` inside one transaction, run again whole on a deadlock or lock-wait timeout."""
    with transaction() as cur:
        return body(cur)


def _read(sql: str, args: Any, take: Callable[[Any], T]) -> T:
    """A read, repeated once on a fresh connection when the old one was lost (outside a
    transaction only: inside one, the transaction is what fails)."""
    for attempt in (1, 2):
        try:
            with connection().cursor() as cur:
                cur.execute(sql, args)
                return take(cur)
        except Exception as exc:
            if not _lost(exc):
                raise
            if in_transaction() or attempt == 2:
                if not in_transaction():
                    close()
                raise
            close()
    raise AssertionError("unreachable")


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
    return _read(sql, args, lambda cur: cast(dict[str, Any] | None, cur.fetchone()))


def count(sql: str, args: Any = None) -> int:
    """The `n` of a `SELECT COUNT(*) AS n ...` (which always answers one row)."""
    return _read(sql, args, lambda cur: int(cast(dict[str, Any], cur.fetchone())["n"]))


def fetch_all(sql: str, args: Any = None) -> list[dict]:
    return _read(sql, args, lambda cur: cast(list[dict], list(cur.fetchall())))


def execute(sql: str, args: Any = None) -> int:
    """Run one statement in autocommit mode; returns the affected row count. Not repeated when
    the connection is lost under it (it may have been applied): the caller decides."""
    try:
        with connection().cursor() as cur:
            return cur.execute(sql, args)
    except Exception as exc:
        if _stale(exc) and not in_transaction():
            close()
        raise
