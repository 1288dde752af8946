"""Script mode and the user's media per scene through the API: prompt XOR script, errors that
name the field and the scene index, clip uploads sniffed and probed at confirmation."""

from __future__ import annotations

import pytest

from chalicelib.billing.plans import DEFAULT_PLANS
from chalicelib.pipeline.concept import script
from tests.fakes.media import make_clip
from tests.integration.test_uploads import PNG, post_file, start, uploaded


def clip_upload(api, user, tmp_path, name="clip.mp4", content_type="video/mp4", **clip) -> dict:
    """Start an upload of a real clip, post it, and GET it: -> the upload as the API shows it."""
    data = make_clip(
        tmp_path / name, container="mov" if content_type == "video/quicktime" else "mp4", **clip
    ).read_bytes()
    form = start(api, user, data, content_type, filename=name).json
    post_file(form, data)
    return api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prompt": "a", "script": "b."}, "script"),
        ({"script": "b.", "scenes": [{"text": "c"}]}, "scenes"),
        ({"duration_s": 10}, "prompt"),
        ({"script": "   "}, "script"),
        ({"scenes": []}, "scenes"),
        ({"scenes": [{"text": "fine"}, {"text": ""}]}, "scenes.1.text"),
        ({"scenes": [{"text": "fine"}, {"text": "ok", "duration_s": 0.2}]}, "scenes.1.duration_s"),
        ({"scenes": [{"text": "fine", "colour": "red"}]}, "scenes.0.colour"),
        ({"script": " ".join(f"Line {i}." for i in range(31))}, "script"),
        ({"script": "word " * 200}, "script"),  # about 80 s of speech: over the free plan's 30 s
        ({"scenes": [{"text": "a", "duration_s": 20}, {"text": "b", "duration_s": 20}]}, "scenes"),
        # over-long scripts the word count missed (issue 23): one "word" of 960 characters, and
        # a scene of 1000 Chinese characters (~240 s said)
        ({"script": "hello," * 160}, "script"),
        ({"scenes": [{"text": "潮" * 1000}]}, "scenes"),
    ],
)
def test_bad_scripts_are_422_naming_the_field_and_scene(api, user, body, field):
    response = api.submit(user, body)
    assert response.status_code == 422, response.body
    assert field in [d["field"] for d in response.json["error"]["details"]], response.json


def test_a_scene_must_name_the_users_own_uploaded_image_or_clip(api, user):
    other = api.signup()
    theirs = uploaded(api, other)
    wav = uploaded(api, user, b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "audio/wav")
    pending = start(api, user).json["id"]
    for upload_id, kind in ((theirs, "not_found"), (wav, "not_scene_media"), (pending, "upload_not_ready")):
        response = api.submit(
            user, {"scenes": [{"text": "one"}, {"text": "two", "image_upload_id": upload_id}]}
        )
        assert response.status_code == 422
        detail = response.json["error"]["details"][0]
        assert (detail["field"], detail["type"]) == ("scenes.1.image_upload_id", kind)


def test_a_script_job_is_accepted_and_keeps_the_request(api, user, tmp_path):
    image = uploaded(api, user, PNG)
    clip = clip_upload(api, user, tmp_path)
    assert clip["status"] == "uploaded", clip
    body = {
        "scenes": [
            {"text": "First, exactly so.", "image_upload_id": image},
            {"text": "Second.", "image_upload_id": clip["id"], "duration_s": 3},
        ],
        "clip_audio_volume": 0.5,
    }
    response = api.submit(user, body)
    assert response.status_code == 202, response.body
    assert response.json["request"]["scenes"][0]["text"] == "First, exactly so."
    assert "prompt" not in response.json["request"]
    assert api.submit(user, {"script": "One. Two. Three."}).status_code == 202


@pytest.mark.parametrize("content_type, name", [("video/mp4", "a.mp4"), ("video/quicktime", "a.mov")])
def test_clips_are_sniffed_and_probed_at_confirmation(api, user, tmp_path, content_type, name):
    assert clip_upload(api, user, tmp_path, name, content_type)["status"] == "uploaded"


def test_a_clip_past_the_plans_length_or_size_is_rejected(api, user, tmp_path):
    free = DEFAULT_PLANS["free"]
    too_long = clip_upload(
        api, user, tmp_path, "long.mp4", seconds=free.clip_max_s + 1, width=64, height=64, fps=5, audio=False
    )
    assert too_long["status"] == "rejected" and "at most 30 s" in too_long["reason"]
    too_big = clip_upload(
        api, user, tmp_path, "big.mp4", seconds=0.2, width=free.clip_max_side + 2, height=64, audio=False
    )
    assert too_big["status"] == "rejected" and "px a side" in too_big["reason"]


def test_a_file_that_only_looks_like_a_clip_is_rejected(api, user):
    fake = b"\x00\x00\x00\x18ftypmp42" + bytes(200)
    form = start(api, user, fake, "video/mp4", filename="x.mp4").json
    post_file(form, fake)
    shown = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert shown["status"] == "rejected" and "no video stream" in shown["reason"]
    declared_mov = b"\x00\x00\x00\x14ftypqt  " + bytes(200)
    form = start(api, user, declared_mov, "video/mp4", filename="y.mp4").json
    post_file(form, declared_mov)
    shown = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert shown["status"] == "rejected" and "video/quicktime" in shown["reason"]


def test_the_worker_holds_a_script_to_the_plan_on_its_real_timeline(api, user, tmp_path):
    """Issue 23: the API's check is an estimate before any narration exists; once the narration
    is made, the video step measures the real timeline against the plan stored on the job and
    fails it with `script_too_long` (not retried) when it runs over."""
    import threading

    from chalicelib.pipeline.context import Context
    from chalicelib.pipeline.errors import StepError
    from chalicelib.pipeline.steps import video

    accepted = api.submit(user, {"script": "One line. Another line."})
    assert accepted.status_code == 202, accepted.body
    job = api.call("GET", f"/v1/jobs/{accepted.json['id']}", token=user["token"]).json
    ctx = Context(
        job_id=job["id"], request=job["request"], work=tmp_path, owner="test", stop=threading.Event()
    )
    concept = script.to_concept(job["request"])
    video._check_plan_length(ctx, script.timed(concept, job["request"], [3.0, 4.0]))  # fits: 8.2 s
    limit = DEFAULT_PLANS["free"].max_duration_s
    with pytest.raises(StepError) as over:  # the voice took far longer than the estimate
        video._check_plan_length(ctx, script.timed(concept, job["request"], [limit / 2, limit / 2]))
    assert over.value.code == "script_too_long" and not over.value.transient
    assert "limit" in over.value.message


def test_the_worker_probes_a_users_clip_before_rendering_it(api, user, tmp_path):
    # The API confirmed a small clip from its headers; what the worker downloads is probed again
    # (a header reader and ffmpeg's demuxer could disagree): here the object became a 45 s
    # 2400x2400 clip whose title poses as 5 s of 320x240, over the free plan's 30 s and 1920 px.
    from chalicelib.infra import storage
    from chalicelib.pipeline.errors import StepError
    from chalicelib.pipeline.media import scene_media
    from chalicelib.uploads import service as uploads
    from tests.fakes.media import make_lying_clip

    clip = clip_upload(api, user, tmp_path)
    assert clip["status"] == "uploaded", clip
    user_id = user["user"]["id"]
    storage.put_file(make_lying_clip(tmp_path / "lying.mp4"), uploads.object_key_for(user_id, clip["id"]))
    request = {"scenes": [{"text": "Look.", "image_upload_id": clip["id"]}], "aspect": "9:16"}
    still = tmp_path / "scene-01.png"
    with pytest.raises(StepError) as refused:
        scene_media.place_all(user_id, request, "9:16", [still])
    assert refused.value.code == "unusable_clip" and not refused.value.transient
    assert "45.0 s" in refused.value.message and not scene_media.clip_path(still).exists()
