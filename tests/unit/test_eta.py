"""The time left's arithmetic: a step priced as a line through recent runs (robust, warm, at the
machine's current level), and a running job's seconds left from its plan, its pace and the
running step's own progress."""

from __future__ import annotations

import pytest

from chalicelib.jobs import eta
from chalicelib.jobs.step_times import Line, Sample, cold_extra, fit, prior, warm_line

VIDEO = Line(2.0, 0.5)  # a render: 2 s, and half a second per second of video


def runs(*sizes: float, line: Line = VIDEO, cold: bool = False) -> list[Sample]:
    return [Sample(u, line.at(u), cold) for u in sizes]


def test_a_size_never_run_is_priced_by_the_line_through_other_sizes():
    line = fit(runs(10, 20, 5, 15), prior("video"))
    assert line.at(30) == pytest.approx(VIDEO.at(30))
    assert line.fixed == pytest.approx(2.0) and line.per_unit == pytest.approx(0.5)


def test_an_outlier_does_not_move_the_line():
    samples = runs(10, 20, 5, 15, 10, 20)
    samples.insert(2, Sample(5, 30.0))  # a run that stalled behind something else
    assert fit(samples, prior("video")).at(10) == pytest.approx(VIDEO.at(10), rel=0.05)


def test_runs_of_one_size_keep_the_built_in_split_between_fixed_and_per_unit_time():
    start = prior("video")
    line = fit([Sample(10, 2 * start.at(10))] * 3, start)  # this machine: twice the built-in
    assert line.at(10) == pytest.approx(2 * start.at(10))
    assert line.at(20) == pytest.approx(2 * start.at(20))


def test_the_level_follows_the_newest_runs():
    older = runs(10, 20, 5, 15, 10, 20, 5, 15)
    slower = runs(10, 20, 5, 15, 10, line=VIDEO.scaled(1.5))  # newest first: the machine got busy
    assert fit(slower + older, prior("video")).at(10) == pytest.approx(1.5 * VIDEO.at(10), rel=0.05)


def test_cold_runs_stay_out_of_the_line_and_price_the_cold_start_on_their_own():
    samples = runs(10, 20, 15, 10) + [Sample(10, VIDEO.at(10) + 0.8, cold=True)]  # a voice loading
    assert warm_line(samples, prior("video")).at(10) == pytest.approx(VIDEO.at(10))
    assert cold_extra(samples, prior("video")) == pytest.approx(0.8)
    only_cold = [Sample(10, 7.0, cold=True)]
    assert warm_line(only_cold, prior("video")).at(10) == pytest.approx(7.0)  # better than nothing
    assert cold_extra(only_cold, prior("video")) == 0.0


def test_without_runs_the_built_in_line_prices_the_step():
    assert warm_line([], prior("video")) == prior("video")
    assert prior("a step of a plug-in") == Line(1.0, 0.0)


def job(*parts: tuple[str, float], **state) -> eta.State:
    return eta.State(
        parts=[eta.Part(name, name, 1, planned_s=s, measured=True) for name, s in parts], **state
    )


PLAN = (("concept", 1.0), ("image", 2.0), ("video", 10.0), ("upload", 1.0))


def test_before_a_step_reports_progress_the_plan_less_its_time_so_far_is_left():
    state = job(
        *PLAN, step="video", step_at=100.0, finished=["concept", "image"], done_planned=3, done_actual=3
    )
    assert eta.seconds_left(state, now=104.0) == pytest.approx(6.0 + 1.0)


def test_from_half_way_a_step_is_timed_by_its_own_progress_and_the_rest_by_its_pace():
    state = job(*PLAN, step="video", step_at=100.0, fraction=0.5, finished=["concept", "image"])
    state.done_planned = state.done_actual = 3.0
    left = eta.seconds_left(state, now=110.0)  # 10 s for half: twice as slow as planned
    pace = (3.0 + 10.0 + eta.PRIOR_SHARE * 14) / (3.0 + 5.0 + eta.PRIOR_SHARE * 14)
    assert left == pytest.approx(10.0 + pace * 1.0, rel=1e-3)


def test_early_progress_is_blended_with_the_plan():
    state = job(*PLAN, step="video", step_at=100.0, fraction=0.1, finished=["concept", "image"])
    left = eta.seconds_left(state, now=102.0)  # 10% in 2 s says 18 s more; the plan says 8 s
    assert 8.0 + 1.0 < left < 18.0 + 1.5


def test_a_step_past_its_plan_without_progress_is_given_a_tail_and_slows_the_rest():
    state = job(*PLAN, step="concept", step_at=100.0)
    left = eta.seconds_left(state, now=105.0)  # planned 1 s, running 5 s: 0.5 s more, say
    pace = (5.5 + eta.PRIOR_SHARE * 14) / (1.0 + eta.PRIOR_SHARE * 14)  # as if it ended so
    assert left == pytest.approx(0.5 + pace * 13.0, rel=1e-3)


def test_a_faster_job_so_far_shortens_what_is_ahead_shrunk_toward_the_plan():
    state = job(*PLAN, finished=["concept", "image"], done_planned=3.0, done_actual=1.5)
    left = eta.seconds_left(state, now=0.0)
    assert 11.0 * 0.5 < left < 11.0  # faster than planned, but 1.5 s saved says little of 11 s


def test_a_cold_worker_adds_the_cold_start_term_to_its_step():
    state = job(*PLAN, step="image", step_at=100.0, finished=["concept"])
    warm = eta.seconds_left(state, now=100.0)
    state.parts[1].cold_s, state.parts[1].cold = 0.8, True
    assert eta.seconds_left(state, now=100.0) == pytest.approx(warm + 0.8)


def test_the_queue_is_not_a_pace():
    state = job(("queue", 1.0), *PLAN, step="queue", step_at=100.0, fraction=0.0)
    assert eta.seconds_left(state, now=130.0) == pytest.approx(3.0 + 14.0)  # 30 s in line: tail 3 s


def test_a_video_step_waiting_for_remote_clips_starts_from_a_longer_prior():
    plain = prior("video", "video:ffmpeg")
    assert prior("video", "video:ffmpeg+offline") == plain
    clips = prior("video", "video:ffmpeg+fal")
    assert clips.per_unit == plain.per_unit and clips.fixed == plain.fixed + 60.0
