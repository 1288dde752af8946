"""Pure rules of the job domain: queue priority, retry backoff, worker count, event cursors,
which failures are refunded, quota periods, Whop plans. No services: these run in milliseconds."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from chalicelib.billing import plans, quota
from chalicelib.http.schemas.jobs import EventsQuery
from chalicelib.infra import queue
from chalicelib.jobs import lifecycle
from chalicelib.runtime import dispatcher, worker


def test_a_users_backlog_pushes_their_next_job_behind_other_users():
    free, business = 3, 1
    # a free user's first job runs before a business user's 5th waiting job...
    assert lifecycle.fair_priority(free, 3, 0) < lifecycle.fair_priority(business, 3, 4)
    # ...and between two users with the same backlog, the plan breaks the tie
    assert lifecycle.fair_priority(business, 3, 2) < lifecycle.fair_priority(free, 3, 2)


def test_priority_is_capped_at_bullmqs_lowest_precedence():
    assert lifecycle.fair_priority(3, 3, 10**9) == queue.MAX_PRIORITY
    assert lifecycle.fair_priority(3, 3, -1) == 3  # a negative backlog counts as none


@pytest.mark.parametrize(
    "attempts_made, low, high",
    [(1, 1000, 2000), (2, 2000, 4000), (3, 4000, 8000), (7, 30_000, 60_000), (20, 30_000, 60_000)],
)
def test_backoff_doubles_with_full_jitter_up_to_a_minute(attempts_made, low, high):
    delays = {worker.backoff(attempts_made) for _ in range(200)}
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 1  # jittered, so jobs that failed together don't retry together


@pytest.mark.parametrize(
    "depth, concurrency, cap, wanted",
    [(0, 2, 10, 0), (1, 2, 10, 1), (2, 2, 10, 1), (3, 2, 10, 2), (100, 2, 10, 10), (5, 1, 0, 0)],
)
def test_desired_workers_is_depth_over_concurrency_capped(depth, concurrency, cap, wanted):
    assert dispatcher.desired_workers(depth, concurrency, cap) == wanted


@pytest.mark.parametrize(
    "cursor, ok",
    [
        ("0-0", True),
        ("1700000000000-3", True),
        ("17", True),
        ("", False),
        ("abc", False),
        ("1-x", False),
        ("-1", False),
        ("\u00b9", False),
        ("9" * 20, False),
    ],
)
def test_event_cursors_are_stream_ids(cursor, ok):
    """ASCII digits only (`str.isdigit` takes "¹"), each part within Redis's 64 bits."""
    try:
        EventsQuery.model_validate({"after": cursor})
    except ValidationError:
        assert not ok
    else:
        assert ok


@pytest.mark.parametrize(
    "code, refunded",
    [
        ("video_failed", True),
        ("timeout", True),
        ("worker_lost", True),
        ("invalid_input", False),
        ("provider_key_rejected", False),
    ],
)
def test_only_failures_that_are_not_the_users_fault_are_refunded(code, refunded):
    assert quota.refunds_failure(code) is refunded


@pytest.mark.parametrize(
    "now, start, end",
    [
        (datetime(2026, 3, 15, 12, 30), datetime(2026, 3, 1), datetime(2026, 4, 1)),
        (datetime(2026, 12, 31, 23, 59), datetime(2026, 12, 1), datetime(2027, 1, 1)),
    ],
)
def test_without_a_membership_period_quota_counts_per_calendar_month(now, start, end):
    assert plans.calendar_month(now) == (start, end)


def test_a_whop_plan_maps_to_ours_and_an_unknown_one_to_free(monkeypatch):
    from chalicelib.core.settings import get_settings

    monkeypatch.setattr(get_settings(), "whop_plan_map", {"plan_abc": "pro"})
    assert plans.plan_for_whop("plan_abc") == "pro"
    assert plans.plan_for_whop("plan_unknown") == "free"
    assert plans.plan_for_whop(None) == "free"


def test_plans_rank_and_prioritise_in_the_same_order():
    table = plans.plan_table()
    by_rank = sorted(table.values(), key=lambda p: p.rank)
    assert [p.name for p in by_rank] == ["free", "pro", "business"]
    assert [p.priority for p in by_rank] == sorted((p.priority for p in by_rank), reverse=True)
