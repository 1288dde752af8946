"""The burst simulation behind docs/capacity.md: it is seeded, serves every job, and the
dispatcher rule it recommends (dispatch on submit, surplus-aware idle exit) beats today's."""

from __future__ import annotations

from bench.burst import IMPROVED, TODAY, Config, simulate


def test_the_simulation_is_repeatable_and_serves_every_job():
    first = simulate(50, TODAY, job_cpu_s=40, spread_s=10, seed=3)
    assert first == simulate(50, TODAY, job_cpu_s=40, spread_s=10, seed=3)
    assert first["queue_wait_s"]["p50"] <= first["queue_wait_s"]["p99"] < first["last_finish_s"]
    assert 0 < first["efficiency"] <= 1


def test_the_improved_rule_starts_sooner_and_wastes_less_idle_time():
    for burst in (10, 100):
        today = simulate(burst, TODAY, job_cpu_s=47, spread_s=10, seed=7)
        improved = simulate(burst, IMPROVED, job_cpu_s=47, spread_s=10, seed=7)
        assert improved["queue_wait_s"]["p95"] <= today["queue_wait_s"]["p95"]
        assert improved["task_seconds_idle"] < today["task_seconds_idle"]


def test_more_workers_shorten_a_big_burst_until_the_queue_is_the_limit():
    waits = [
        simulate(1000, Config(**{**vars(IMPROVED), "max_workers": m}), 47, 10, 7)["queue_wait_s"]["last_job"]
        for m in (10, 50, 100)
    ]
    assert waits[0] > waits[1] > waits[2]
    assert simulate(10, Config(max_workers=5, concurrency=2), 47, 10, 7)["tasks_started"] == 5
