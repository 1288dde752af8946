"""The database helper under a lost connection and lock conflicts, against the real MariaDB: it
reconnects, retries a deadlocked transaction whole, and never resumes one half-way."""

from __future__ import annotations

import secrets
import threading

import pytest

from chalicelib.infra import db, outage
from chalicelib.infra.outage import Store


@pytest.fixture
def probe_table():
    name = f"outage_probe_{secrets.token_hex(3)}"
    db.execute(f"CREATE TABLE `{name}` (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB")
    db.execute(f"INSERT INTO `{name}` (id, v) VALUES (1, 0), (2, 0)")  # nosec B608: test's own name
    yield name
    db.close()
    db.execute(f"DROP TABLE IF EXISTS `{name}`")


def _kill(connection_id: int) -> None:
    """Another session kills ours: the server side of a lost connection (a restart, a failover)."""
    killer = db.connect()
    try:
        with killer.cursor() as cur:
            cur.execute("KILL CONNECTION %s", (connection_id,))
    finally:
        killer.close()


def _my_connection_id() -> int:
    return int(db.fetch_one("SELECT CONNECTION_ID() AS id")["id"])


def test_a_read_after_the_server_dropped_the_connection_reconnects():
    before = _my_connection_id()
    _kill(before)
    assert db.fetch_one("SELECT 1 AS ok") == {"ok": 1}
    assert _my_connection_id() != before


def test_a_transaction_after_the_server_dropped_the_connection_reconnects(probe_table):
    _kill(_my_connection_id())
    with db.transaction() as cur:
        cur.execute(f"UPDATE `{probe_table}` SET v = 7 WHERE id = 1")  # nosec B608
    assert db.fetch_one(f"SELECT v FROM `{probe_table}` WHERE id = 1")["v"] == 7  # nosec B608


def test_a_connection_lost_half_way_fails_the_transaction_and_nothing_of_it_commits(probe_table):
    runs = []

    def body(cur):
        runs.append(1)
        cur.execute(f"UPDATE `{probe_table}` SET v = 1 WHERE id = 1")  # nosec B608
        cur.execute("SELECT CONNECTION_ID() AS id")
        _kill(cur.fetchone()["id"])
        cur.execute(f"UPDATE `{probe_table}` SET v = 1 WHERE id = 2")  # nosec B608

    with pytest.raises(Exception) as caught:
        db.run_in_transaction(body)
    assert outage.store_of(caught.value) is Store.mysql  # an outage for the caller, not a bug
    assert runs == [1]  # never resumed, never repeated from a statement half-way
    rows = db.fetch_all(f"SELECT v FROM `{probe_table}` ORDER BY id")  # nosec B608
    assert [r["v"] for r in rows] == [0, 0]


def test_a_deadlocked_transaction_is_retried_whole_and_both_commit(probe_table):
    first_locked, second_locked = threading.Event(), threading.Event()
    runs = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def transfer(name: str, first: int, second: int, mine: threading.Event, theirs: threading.Event):
        def body(cur):
            runs[name] += 1
            cur.execute(f"UPDATE `{probe_table}` SET v = v + 1 WHERE id = %s", (first,))  # nosec B608
            mine.set()
            theirs.wait(10)  # both hold one row: the next statement deadlocks one of them
            cur.execute(f"UPDATE `{probe_table}` SET v = v + 10 WHERE id = %s", (second,))  # nosec B608

        try:
            db.run_in_transaction(body)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.close()

    threads = [
        threading.Thread(target=transfer, args=("a", 1, 2, first_locked, second_locked)),
        threading.Thread(target=transfer, args=("b", 2, 1, second_locked, first_locked)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(runs.values()) == [1, 2]  # the deadlock victim ran again, from BEGIN
    rows = db.fetch_all(f"SELECT v FROM `{probe_table}` ORDER BY id")  # nosec B608
    assert [r["v"] for r in rows] == [11, 11]  # each transfer applied exactly once


def test_a_refused_connect_is_an_outage_after_a_bounded_retry(monkeypatch):
    from chalicelib.core.settings import get_settings
    from tests.conftest import free_port

    monkeypatch.setattr(get_settings(), "database_url", f"mysql://root:@127.0.0.1:{free_port()}/media")
    with pytest.raises(Exception) as caught:
        db.connect()
    assert outage.store_of(caught.value) is Store.mysql
    assert outage.mysql_code(caught.value) == 2003


def test_a_write_refused_by_a_read_only_server_drops_the_connection(probe_table):
    """An Aurora failover leaves old connections on the demoted writer, which refuses writes
    (1290): an outage, and the connection goes so the next one reaches the new writer. Here the
    session is made read-only (MariaDB's 1792), the same refusal without touching the server."""
    db.execute("SET SESSION TRANSACTION READ ONLY")
    before = _my_connection_id()
    with pytest.raises(Exception) as caught:
        db.execute(f"UPDATE `{probe_table}` SET v = 3 WHERE id = 1")  # nosec B608
    assert outage.store_of(caught.value) is Store.mysql
    assert outage.mysql_code(caught.value) in outage.MYSQL_READ_ONLY
    db.execute(f"UPDATE `{probe_table}` SET v = 3 WHERE id = 1")  # nosec B608: a fresh connection
    assert _my_connection_id() != before
    assert db.fetch_one(f"SELECT v FROM `{probe_table}` WHERE id = 1")["v"] == 3  # nosec B608


def test_a_transaction_refused_by_a_read_only_server_is_rolled_back_and_the_connection_dropped(
    probe_table,
):
    db.execute("SET SESSION TRANSACTION READ ONLY")
    before = _my_connection_id()
    with pytest.raises(Exception) as caught, db.transaction() as cur:
        cur.execute(f"UPDATE `{probe_table}` SET v = 4 WHERE id = 1")  # nosec B608
    assert outage.store_of(caught.value) is Store.mysql
    with db.transaction() as cur:
        cur.execute(f"UPDATE `{probe_table}` SET v = 4 WHERE id = 1")  # nosec B608
    assert _my_connection_id() != before
