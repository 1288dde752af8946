"""The database helper's fault classification: which pymysql errors drop the connection, which
rerun a transaction whole, and that nothing is rerun inside a transaction or for a bug."""

from __future__ import annotations

import pymysql
import pytest

from chalicelib.infra import db, outage
from chalicelib.infra.outage import Store

LOST = [
    pymysql.err.OperationalError(2003, "Can't connect to MySQL server (111)"),
    pymysql.err.OperationalError(2006, "MySQL server has gone away"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymysql.err.OperationalError(1927, "Connection was killed"),
    pymysql.err.InterfaceError(0, ""),
]
READ_ONLY = [
    pymysql.err.OperationalError(1290, "The MariaDB server is running with the --read-only option"),
    pymysql.err.InternalError(1792, "Cannot execute statement in a READ ONLY transaction"),
    pymysql.err.InternalError(1836, "Running in read-only mode"),
]
CONFLICTS = [
    pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
    pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"),
]
BUGS = [
    pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
    pymysql.err.IntegrityError(1062, "Duplicate entry"),
    pymysql.err.OperationalError(1054, "Unknown column"),
    ValueError("not a database error"),
]


def _ids(e):
    return f"{type(e).__name__}-{e.args[0] if e.args else ''}"


@pytest.mark.parametrize("exc", LOST, ids=_ids)
def test_a_lost_connection_is_dropped_and_is_an_outage(exc):
    assert db._lost(exc) and db._stale(exc) and not db._is_conflict(exc)
    assert outage.store_of(exc) is Store.mysql


@pytest.mark.parametrize("exc", READ_ONLY, ids=_ids)
def test_a_read_only_server_after_a_failover_drops_the_connection_and_is_an_outage(exc):
    assert db._stale(exc) and not db._lost(exc) and not db._is_conflict(exc)
    assert outage.store_of(exc) is Store.mysql


@pytest.mark.parametrize("exc", CONFLICTS, ids=_ids)
def test_a_deadlock_or_lock_wait_reruns_the_transaction_and_keeps_the_connection(exc):
    assert db._is_conflict(exc) and not db._stale(exc)
    assert outage.store_of(exc) is Store.mysql  # when it keeps happening: contention, not a bug


@pytest.mark.parametrize("exc", BUGS, ids=_ids)
def test_bugs_are_neither_dropped_nor_rerun_nor_outages(exc):
    assert not db._stale(exc) and not db._is_conflict(exc)
    assert outage.store_of(exc) is None


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(db, "CONFLICT_BACKOFF_S", 0.0)


def _failing(errors: list[BaseException]):
    runs = []

    @db.retries_conflicts
    def transition() -> str:
        runs.append(1)
        if len(runs) <= len(errors):
            raise errors[len(runs) - 1]
        return "done"

    return transition, runs


@pytest.mark.parametrize("exc", CONFLICTS, ids=_ids)
def test_a_conflicted_transaction_runs_again_whole(no_backoff, exc):
    transition, runs = _failing([exc, exc])
    assert transition() == "done" and len(runs) == 3


def test_conflicts_are_rerun_a_bounded_number_of_times(no_backoff):
    transition, runs = _failing([CONFLICTS[0]] * (db.CONFLICT_ATTEMPTS + 1))
    with pytest.raises(pymysql.err.OperationalError):
        transition()
    assert len(runs) == db.CONFLICT_ATTEMPTS


@pytest.mark.parametrize("exc", LOST + READ_ONLY + BUGS, ids=_ids)
def test_anything_but_a_conflict_is_not_rerun_by_the_transaction_helper(no_backoff, exc):
    """A connection lost in a transaction may have lost it after the commit: the caller decides
    (a worker reruns the job from its checkpoints, the API answers 503)."""
    transition, runs = _failing([exc])
    with pytest.raises(type(exc)):
        transition()
    assert runs == [1]


def test_inside_another_transaction_a_conflict_is_not_rerun_half_way(no_backoff, monkeypatch):
    """The outer transaction was rolled back with it: only the outer one may start again."""
    monkeypatch.setattr(db._local, "depth", 1, raising=False)
    transition, runs = _failing([CONFLICTS[0]])
    with pytest.raises(pymysql.err.OperationalError):
        transition()
    assert runs == [1]
