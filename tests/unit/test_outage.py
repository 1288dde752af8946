"""Which store errors are outages (the API answers 503, a worker pauses) and which are bugs."""

from __future__ import annotations

import logging

import pymysql
import pytest
import redis

from chalicelib.core.errors import Unavailable
from chalicelib.infra import outage
from chalicelib.infra.outage import Store


@pytest.mark.parametrize(
    "exc",
    [
        pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' (111)"),
        pymysql.err.OperationalError(2006, "MySQL server has gone away"),
        pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query (timed out)"),
        pymysql.err.OperationalError(1290, "The MariaDB server is running with the --read-only option"),
        pymysql.err.InternalError(1836, "Running in read-only mode"),
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"),
        pymysql.err.OperationalError(1040, "Too many connections"),
        pymysql.err.InterfaceError(0, ""),
    ],
    ids=lambda e: f"{type(e).__name__}-{e.args[0]}",
)
def test_mysql_away_failing_over_or_contended_is_an_outage(exc):
    assert outage.store_of(exc) is Store.mysql


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
        redis.exceptions.ResponseError("LOADING Redis is loading the dataset in memory"),
        redis.exceptions.ClusterDownError("CLUSTERDOWN The cluster is down"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_redis_away_stalled_or_failing_over_is_an_outage(exc):
    assert outage.store_of(exc) is Store.redis


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.MasterDownError("MASTERDOWN Link with MASTER is down"),
        redis.exceptions.TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
        redis.exceptions.ClusterError("TTL exhausted."),  # MOVED/ASK that never settled
        redis.exceptions.SlotNotCoveredError('Slot "1234" is not covered by the cluster.'),
        redis.exceptions.MaxConnectionsError("Too many connections"),
        redis.exceptions.RedisClusterException(
            "Redis Cluster cannot be connected. Please provide at least one reachable node: None"
        ),
        redis.exceptions.RedisClusterException("All slots are not covered after query all startup_nodes."),
        redis.exceptions.RedisClusterException("startup_nodes could not agree on a valid slots cache: x"),
        redis.exceptions.ResponseError("CLUSTERDOWN Hash slot not served"),  # from a Lua script
        redis.exceptions.ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"),
    ],
    ids=lambda e: f"{type(e).__name__}-{e}"[:48],
)
def test_a_cluster_that_cannot_serve_a_slot_is_a_redis_outage(exc):
    """ElastiCache Serverless is cluster mode: a node away or failing over, a slot moving."""
    assert outage.store_of(exc) is Store.redis


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.RedisClusterException("EVAL - all keys must map to the same key slot"),
        redis.exceptions.CrossSlotTransactionError("All keys involved in a cluster transaction must map"),
        redis.exceptions.ClusterCrossSlotError("CROSSSLOT Keys in request don't hash to the same slot"),
        redis.exceptions.RedisClusterException("A ``db`` querystring option can only be 0 in cluster mode"),
    ],
    ids=lambda e: f"{type(e).__name__}-{e}"[:48],
)
def test_cross_slot_commands_and_cluster_configuration_are_bugs_not_outages(exc):
    assert outage.store_of(exc) is None


@pytest.mark.parametrize(
    "exc",
    [
        pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
        pymysql.err.OperationalError(1054, "Unknown column 'x' in 'field list'"),
        pymysql.err.IntegrityError(1062, "Duplicate entry"),
        pymysql.err.OperationalError(1045, "Access denied for user"),
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        redis.exceptions.DataError("Invalid input of type: 'NoneType'"),
        redis.exceptions.AuthenticationError("invalid password"),
        ValueError("not a store error"),
        TimeoutError("a provider's HTTP call"),
        ConnectionRefusedError("an outside service, not a store"),
    ],
    ids=lambda e: f"{type(e).__name__}-{e.args[0] if e.args else ''}"[:40],
)
def test_bugs_and_other_services_errors_are_not_outages(exc):
    assert outage.store_of(exc) is None


def test_an_outage_wrapped_by_another_error_is_found_through_the_chain():
    try:
        try:
            raise redis.exceptions.ConnectionError("refused")
        except redis.exceptions.ConnectionError as inner:
            raise RuntimeError("the step failed") from inner
    except RuntimeError as outer:
        assert outage.store_of(outer) is Store.redis


def test_the_api_answer_is_503_with_retry_after_and_names_the_dependency():
    err = outage.unavailable(Store.mysql)
    assert isinstance(err, Unavailable) and err.status == 503 and err.code == "unavailable"
    assert err.headers["Retry-After"] == str(outage.RETRY_AFTER_S)
    assert err.details["dependency"] == "mysql"


def test_an_outage_logs_one_warning_then_one_line_when_back(caplog):
    exc = pymysql.err.OperationalError(2003, "refused")
    outage.recovered(Store.mysql)  # a clean start, whatever ran before
    with caplog.at_level(logging.DEBUG, logger=outage.__name__):
        for _ in range(20):
            outage.report(Store.mysql, exc)
        assert outage.is_down(Store.mysql)
        outage.recovered(Store.mysql)
        outage.recovered(Store.mysql)
    levels = [r.levelno for r in caplog.records if r.levelno >= logging.INFO]
    assert levels == [logging.WARNING, logging.INFO]
    assert not outage.is_down(Store.mysql)
