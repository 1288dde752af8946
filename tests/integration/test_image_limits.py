"""Decompression bombs: image dimensions are bounded from the header alone, at upload
confirmation (rejected, code image_too_large), in the worker (Pillow's limit is an error), and
for images returned by providers; a reference image is decoded once per job."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from chalicelib.infra import storage
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.errors import ProviderError, StepError
from chalicelib.pipeline.media import images
from chalicelib.pipeline.remote import openai_steps
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.uploads import image_limits
from chalicelib.uploads import service as uploads
from tests.fakes.bomb import bomb_png
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.test_uploads import post_file, start, uploaded

BOMB = bomb_png(13000, 13000)  # the review's 169-megapixel PNG, in a few KB


def test_the_bomb_is_tiny_on_disk_and_huge_in_pixels():
    assert len(BOMB) < 50_000
    with pytest.raises(image_limits.ImageRejected) as caught:
        image_limits.dimensions(BOMB)  # the header alone says so
    assert caught.value.code == "image_too_large"
    assert image_limits.dimensions(bomb_png(7000, 7000)) == (7000, 7000)


def test_an_upload_over_the_pixel_limit_is_rejected_from_its_header(api, user):
    form = start(api, user, BOMB, "image/png", "huge.png").json
    post_file(form, BOMB)
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "rejected" and got["code"] == "image_too_large"
    assert "pixels" in got["reason"]
    user_id = user["user"]["id"]
    assert not storage.exists(uploads.incoming_key(user_id, form["id"]))
    assert not storage.exists(uploads.object_key_for(user_id, form["id"]))


def test_an_image_whose_header_cannot_be_read_is_rejected(api, user):
    broken = b"\x89PNG\r\n\x1a\n" + bytes(64)
    form = start(api, user, broken, "image/png").json
    post_file(form, broken)
    got = api.call("GET", f"/v1/uploads/{form['id']}", token=user["token"]).json
    assert got["status"] == "rejected" and got["code"] == "unreadable_image"


def test_a_normal_image_is_still_uploaded(api, user):
    upload_id = uploaded(api, user)
    got = api.call("GET", f"/v1/uploads/{upload_id}", token=user["token"]).json
    assert got["status"] == "uploaded" and got["code"] is None


def test_in_the_worker_pillows_limit_is_an_error_not_a_warning(tmp_path):
    image_limits.enforce_pixel_limit()
    over = tmp_path / "over.png"  # over the limit, under twice it: Pillow would only warn
    over.write_bytes(bomb_png(8000, 8000))
    with pytest.raises((Image.DecompressionBombWarning, Image.DecompressionBombError)):
        Image.open(over)
    with pytest.raises(image_limits.ImageRejected) as caught:
        image_limits.open_checked(over)
    assert caught.value.code == "image_too_large"


def _image_task(tmp_path: Path, reference: Path | None) -> provider_chain.Task:
    task = provider_chain.Task(
        request={"prompt": "A lantern in the fog", "duration_s": 10, "aspect": "1:1"},
        user_id="usr_none",
        reference=reference,
    )
    task.concept = write_concept("A lantern in the fog", 10)
    task.paths = [tmp_path / f"scene-{s.index}.png" for s in task.concept.scenes]
    return task


def test_a_bomb_reference_fails_the_image_step_without_decoding(tmp_path):
    reference = tmp_path / "reference"
    reference.write_bytes(BOMB)
    with pytest.raises(StepError) as caught:
        provider_chain.run("image", _image_task(tmp_path, reference))
    assert caught.value.code == "image_too_large" and not caught.value.transient


def test_the_reference_image_is_decoded_once_per_job_not_once_per_scene(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    Image.new("RGB", (640, 480), "orange").save(reference, format="PNG")
    opened: list[object] = []
    real_open = Image.open

    def counting_open(fp, *args, **kwargs):
        if str(fp) == str(reference):
            opened.append(fp)
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    task = _image_task(tmp_path, reference)
    provider_chain.run("image", task)
    assert len(task.concept.scenes) >= 3 and len(opened) == 1
    assert all(path.exists() for path in task.paths)


def test_a_provider_image_over_the_limit_is_bad_output(tmp_path):
    concept = write_concept("A lantern in the fog", 5)
    paths = [tmp_path / f"{s.index}.png" for s in concept.scenes]
    with FakeOpenAI() as fake:
        fake.script("images/generations", "huge")
        with pytest.raises(ProviderError) as caught:
            openai_steps.render_images(
                OpenAIClient("sk-x-123456", fake.base_url, max_retries=0), concept, "1:1", None, paths
            )
    assert caught.value.code == "provider_bad_output" and "limit" in caught.value.message
    assert images.ASPECTS["1:1"]  # the module (and its pixel limit) is loaded in the worker
