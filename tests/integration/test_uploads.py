"""Uploads (API.md, Uploads): the presigned form's policy, and the checks once the file is in S3.

The moto server does not enforce POST policies, so the policy document is checked as data and
the server-side checks (size, stored type, sniffed content) by posting files that break them.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chalicelib.billing.plans import DEFAULT_PLANS
from chalicelib.infra import storage
from chalicelib.uploads import service as uploads


def _image(fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, format=fmt)
    return out.getvalue()


PNG, JPEG = _image("PNG"), _image("JPEG")  # real (tiny) images: their headers are read
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40)
FREE_MAX = DEFAULT_PLANS["free"].upload_max_bytes


def start(api, user, data=PNG, content_type="image/png", filename="cat.png", size=None):
    body = {
        "filename": filename,
        "content_type": content_type,
        "size_bytes": len(data) if size is None else size,
    }
    return api.call("POST", "/v1/uploads", body, token=user["token"])


def post_file(form: dict, data: bytes, content_type: str | None = None) -> None:
    """What a browser does with the form: the fields, then the file, as multipart."""
    fields = dict(form["fields"])
    if content_type is not None:  # a client ignoring the form (moto won't stop it; S3 would)
        fields["Content-Type"] = content_type
    response = httpx.post(
        form["url"], data=fields, files={"file": ("ignored-name.bin", data, fields["Content-Type"])}
    )
    assert response.status_code in (200, 201, 204), response.text


def uploaded(api, user, data=PNG, content_type="image/png") -> str:
    form = start(api, user, data, content_type).json
    post_file(form, data)
    assert api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json["status"] == "uploaded"
    return form["id"]


def policy_of(form: dict) -> dict:
    return json.loads(base64.b64decode(form["fields"]["policy"]))


def test_start_returns_a_form_whose_policy_pins_key_type_and_size(api, user):
    response = start(api, user, filename='../../My Cat "best".png')
    assert response.status_code == 201, response.body
    form = response.json
    assert form["id"].startswith("upl_") and form["max_bytes"] == FREE_MAX
    key = uploads.incoming_key(user["user"]["id"], form["id"])
    assert form["fields"]["key"] == key and form["fields"]["Content-Type"] == "image/png"

    policy = policy_of(form)
    conditions = policy["conditions"]
    assert {"key": key} in conditions  # exact, not starts-with: the client can't pick the key
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, FREE_MAX] in conditions
    disposition = form["fields"]["Content-Disposition"]
    assert {"Content-Disposition": disposition} in conditions
    assert '"My Cat _best_.png"' in disposition and ".." not in disposition
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert now + timedelta(minutes=9) < expiration <= now + timedelta(minutes=10, seconds=5)
    assert form["expires_at"].endswith("Z")

    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "pending" and got["filename"] == 'My Cat "best".png'
    assert got["content_type"] == "image/png" and got["size_bytes"] == len(PNG)


def test_posted_file_is_confirmed_and_copied_to_the_key_jobs_read(api, user):
    form = start(api, user).json
    post_file(form, PNG)
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "uploaded" and got["reason"] is None
    user_id = user["user"]["id"]
    assert storage.get_bytes(uploads.object_key_for(user_id, form["id"])) == PNG
    assert not storage.exists(uploads.incoming_key(user_id, form["id"]))
    again = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert again == got


@pytest.mark.parametrize(
    "declared, data, why",
    [
        ("image/png", JPEG, "not image/png"),  # renamed: the bytes say JPEG
        ("audio/wav", PNG, "not audio/wav"),
    ],
    ids=["jpeg-declared-png", "png-declared-wav"],
)
def test_content_that_is_not_the_declared_type_is_rejected_and_deleted(api, user, declared, data, why):
    form = start(api, user, data, declared).json
    post_file(form, data)
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "rejected" and why in got["reason"]
    user_id = user["user"]["id"]
    assert not storage.exists(uploads.incoming_key(user_id, form["id"]))
    assert not storage.exists(uploads.object_key_for(user_id, form["id"]))


def test_a_file_of_another_size_than_declared_is_rejected(api, user):
    form = start(api, user, size=len(PNG) + 1).json
    post_file(form, PNG)
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "rejected" and "not the declared" in got["reason"]


def test_a_file_stored_with_another_content_type_is_rejected(api, user):
    form = start(api, user).json
    post_file(form, PNG, content_type="text/html")
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "rejected" and "text/html" in got["reason"]


def test_over_the_plan_limit_is_413_with_the_limit(api, user):
    response = start(api, user, size=FREE_MAX + 1)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert response.json["error"]["details"]["max_bytes"] == FREE_MAX
    assert start(api, user, size=FREE_MAX).status_code == 201


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/pdf", "image/gif"])
def test_other_types_are_415(api, user, content_type):
    response = start(api, user, content_type=content_type)
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"filename": "", "content_type": "image/png", "size_bytes": 1}, "filename"),
        ({"filename": "a\nb.png", "content_type": "image/png", "size_bytes": 1}, "filename"),
        ({"filename": "a.png", "content_type": "image/png", "size_bytes": 0}, "size_bytes"),
        ({"filename": "a.png", "content_type": "image/png"}, "size_bytes"),
        (
            {"filename": "a.png", "content_type": "image/png", "size_bytes": 2.7e26},
            "size_bytes",
        ),  # no S3 upload
        ({"filename": "a.png", "content_type": "image/png", "size_bytes": 1, "key": "x"}, "key"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(api, user, body, field):
    response = api.call("POST", "/v1/uploads", body, token=user["token"])
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json["error"]["details"]}


def test_another_users_upload_is_404_like_a_missing_one(api, user):
    upload_id = start(api, user).json["id"]
    other = api.signup()
    theirs = api.call("GET", f"/v1/uploads/{upload_id}", token=other["token"])
    missing = api.call("GET", "/v1/uploads/upl_doesnotexist", token=user["token"])
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json == missing.json


def test_sniffing_knows_each_allowed_type():
    assert uploads.sniff(PNG) == "image/png"
    assert uploads.sniff(JPEG) == "image/jpeg"
    assert uploads.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert uploads.sniff(WAV) == "audio/wav"
    assert uploads.sniff(b"ID3\x04\x00") == "audio/mpeg"
    assert uploads.sniff(b"\xff\xfb\x90\x00") == "audio/mpeg"
    assert uploads.sniff(b"<html>") is None and uploads.sniff(b"") is None


# ---- uploads in jobs ------------------------------------------------------------------------
def submit_with(api, user, upload_id):
    body = {
        "prompt": "A cat in the style of this photo",
        "duration_s": 10,
        "inputs": {"reference_image_upload_id": upload_id},
    }
    return api.call("POST", "/v1/jobs", body, token=user["token"])


def assert_refused(response, kind):
    assert response.status_code == 422, response.body
    detail = response.json["error"]["details"][0]
    assert detail["field"] == "inputs.reference_image_upload_id" and detail["type"] == kind


def test_a_job_with_an_uploaded_image_is_accepted_and_keeps_the_upload_id(api, user):
    upload_id = uploaded(api, user)
    response = submit_with(api, user, upload_id)
    assert response.status_code == 202, response.body
    assert response.json["request"]["inputs"] == {"reference_image_upload_id": upload_id}


def test_a_job_confirms_a_pending_upload_on_the_spot(api, user):
    form = start(api, user, JPEG, "image/jpeg").json
    post_file(form, JPEG)
    assert submit_with(api, user, form["id"]).status_code == 202
    assert api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json["status"] == "uploaded"


def test_a_job_refuses_another_users_upload(api, user):
    upload_id = uploaded(api, user)
    assert_refused(submit_with(api, api.signup(), upload_id), "not_found")
    assert_refused(submit_with(api, user, "upl_" + "0" * 22), "not_found")
    malformed = submit_with(api, user, "upl_doesnotexist")  # not an id at all: the schema says so
    assert malformed.status_code == 422
    assert malformed.json["error"]["details"][0]["type"] == "string_pattern_mismatch"


def test_a_job_refuses_uploads_not_uploaded_or_not_images(api, user):
    assert_refused(submit_with(api, user, start(api, user).json["id"]), "upload_not_ready")
    assert_refused(submit_with(api, user, uploaded(api, user, WAV, "audio/wav")), "not_an_image")
    listed = api.call("GET", "/v1/jobs", token=user["token"]).json["items"]
    assert listed == []


def submit_with_music(api, user, upload_id):
    return api.call(
        "POST",
        "/v1/jobs",
        {"prompt": "A cat naps", "inputs": {"music_upload_id": upload_id}},
        token=user["token"],
    )


def test_a_job_takes_an_uploaded_wav_as_its_music(api, user):
    upload_id = uploaded(api, user, WAV, "audio/wav")
    response = submit_with_music(api, user, upload_id)
    assert response.status_code == 202
    assert response.json["request"]["inputs"] == {"music_upload_id": upload_id}


def test_music_must_be_an_uploaded_audio_file_of_the_user(api, user):
    response = submit_with_music(api, user, uploaded(api, user))  # a PNG
    assert response.status_code == 422
    detail = response.json["error"]["details"][0]
    assert detail["field"] == "inputs.music_upload_id" and detail["type"] == "not_audio"
    missing = submit_with_music(api, user, "upl_" + "0" * 22)
    assert missing.json["error"]["details"][0]["type"] == "not_found"
