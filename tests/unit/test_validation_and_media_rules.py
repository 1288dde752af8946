"""Request validation, log redaction and the video timeline: pure functions, no services."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.core.observability import REDACTED, redact
from chalicelib.http.schemas.jobs import JobCreate
from chalicelib.pipeline.media.captions import build_srt, srt_timestamp
from chalicelib.pipeline.media.filtergraph import FPS, plan_timeline


def test_a_job_request_gets_its_defaults():
    job = JobCreate(prompt="a lighthouse")
    assert (job.duration_s, job.aspect, job.language) == (15, "9:16", "en")


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": ""},
        {"prompt": "x", "duration_s": 4},
        {"prompt": "x", "duration_s": 181},
        {"prompt": "x", "aspect": "4:3"},
        {"prompt": "x", "language": "english!"},
        {"prompt": "x", "unknown_field": 1},
    ],
)
def test_a_bad_job_request_is_refused(body):
    with pytest.raises(ValidationError):
        JobCreate.model_validate(body)


def test_secrets_are_redacted_at_any_depth_and_in_text():
    out = redact(
        {
            "password": "hunter2",
            "nested": [{"api_key": "sk-1"}],
            "note": "sent Authorization: Bearer abc.def",
            "ok": 1,
        }
    )
    assert out["password"] == REDACTED and out["nested"][0]["api_key"] == REDACTED
    assert "abc.def" not in out["note"] and out["ok"] == 1


def test_the_timeline_covers_every_scene_in_whole_frames():
    durations = [2.0, 3.5, 1.5]
    timeline = plan_timeline(durations)
    assert timeline.total == pytest.approx(sum(durations))
    assert sum(timeline.frames) == round(sum(durations) * FPS)
    assert timeline.starts[0] == 0
    assert all(a + f == b for a, f, b in zip(timeline.starts, timeline.frames, timeline.starts[1:]))
    assert 1 <= timeline.crossfade <= min(timeline.frames) // 3
    # caption windows tile the video with no gap
    assert timeline.windows[0][0] == 0 and timeline.windows[-1][1] == pytest.approx(timeline.total)
    assert all(w[1] == n[0] for w, n in zip(timeline.windows, timeline.windows[1:]))


def test_srt_cues_are_numbered_with_millisecond_timestamps():
    assert srt_timestamp(3723.456) == "01:02:03,456"
    srt = build_srt([(0.0, 1.5, "Hello"), (1.5, 3.0, "World")])
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello\n")
    assert "2\n00:00:01,500 --> 00:00:03,000\nWorld" in srt
