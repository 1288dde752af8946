"""The fal.ai provider (issue 26) against a local fake of fal's queue API serving real PNGs:
the user's own fal key (stored through the API, pointing at the fake by base_url), scenes made
in parallel and checkpointed, a 429 storm slowed through, hostile outputs falling back with a
note, and a cancel reaching every generation in flight."""

from __future__ import annotations

import secrets

import pytest
from PIL import Image

from chalicelib.core.settings import get_settings
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.images import ASPECTS
from tests.fakes.fal_server import FakeFal

SCENES = [
    {"text": "Waves roll in.", "visual": "ocean waves at dawn"},
    {"text": "A fox waits.", "visual": "a red fox in snow"},
    {"text": "Night falls.", "visual": "a city at night"},
]


@pytest.fixture
def fake(tmp_path):
    with FakeFal(tmp_path, api_key=f"fal-{secrets.token_hex(8)}") as server:
        yield server


@pytest.fixture
def keyed(api, user, fake):
    body = {"api_key": fake.api_key, "base_url": fake.base_url}
    response = api.call("PUT", "/v1/provider-keys/fal", body, token=user["token"])
    assert response.status_code == 200, response.body
    return user


def run_images(user, tmp_path, job_id: str | None = None, should_stop=lambda: False):
    request = {"scenes": SCENES, "aspect": "9:16", "providers": {"image": "fal"}}
    concept = script.to_concept(request)
    work = tmp_path / secrets.token_hex(3)
    work.mkdir()
    paths = [work / f"scene-{i + 1:02d}.png" for i in range(len(concept.scenes))]
    task = provider_chain.Task(
        request=request,
        user_id=user["user"]["id"],
        concept=concept,
        paths=paths,
        job_id=job_id or f"job_{secrets.token_hex(6)}",
        should_stop=should_stop,
    )
    return provider_chain.run("image", task), paths


def test_each_scene_is_generated_on_fal_with_the_users_key_and_checkpointed(keyed, fake, tmp_path):
    job_id = f"job_{secrets.token_hex(6)}"
    outcome, paths = run_images(keyed, tmp_path, job_id)
    assert outcome.provider == "fal"
    assert fake.counts["submit"] == 3 and fake.counts["files"] == 3 and fake.running() == 0
    assert {i["model"] for i in fake.inputs} == {get_settings().fal_image_model}
    assert {i["input"]["image_size"] for i in fake.inputs} == {"portrait_16_9"}
    assert sorted(i["input"]["prompt"].split(".")[0] for i in fake.inputs) == sorted(
        s["visual"] for s in SCENES
    )
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == ASPECTS["9:16"]
    usage = outcome.usage[0]
    assert (usage.images, usage.account, usage.cost_micros) == (3, "own", 3 * 3_000)  # the price table
    again, _ = run_images(keyed, tmp_path, job_id)  # the job resumed: every scene is kept
    assert again.provider == "fal" and fake.counts["submit"] == 3


def test_a_429_storm_slows_the_scenes_down_without_failing_them(keyed, fake, tmp_path):
    fake.storm(8)
    outcome, paths = run_images(keyed, tmp_path)
    assert outcome.provider == "fal" and all(p.exists() for p in paths)
    assert fake.counts["429"] == 8 and fake.counts["submit"] == 3
    assert any("fal asked us to slow down" in n for n in outcome.notes)


def test_5xx_answers_are_retried(keyed, fake, tmp_path):
    fake.flaky(2)
    outcome, _ = run_images(keyed, tmp_path)
    assert outcome.provider == "fal" and fake.counts["5xx"] == 2


@pytest.mark.parametrize("output", ["malformed", "oversized"])
def test_a_malformed_or_oversized_output_falls_back_to_the_next_provider_with_a_note(
    keyed, fake, tmp_path, monkeypatch, output
):
    monkeypatch.setattr(get_settings(), "fal_max_output_bytes", 1024 * 1024)
    fake.output = output
    outcome, paths = run_images(keyed, tmp_path)
    assert outcome.provider == "offline" and all(p.exists() for p in paths)
    assert any(n.startswith("image: fal failed (provider_bad_output") for n in outcome.notes), outcome.notes
    assert fake.running() == 0


def test_a_rejected_key_of_the_users_own_stops_the_job(api, user, fake, tmp_path):
    body = {"api_key": "fal-wrong", "base_url": fake.base_url}
    assert api.call("PUT", "/v1/provider-keys/fal", body, token=user["token"]).status_code == 200
    with pytest.raises(provider_chain.ProviderError) as raised:
        run_images(user, tmp_path)
    assert raised.value.code == "provider_key_rejected"


def test_cancel_reaches_every_generation_in_flight(keyed, fake, tmp_path):
    fake.hold = True  # every request stays IN_PROGRESS until canceled
    with pytest.raises(RenderCanceled):
        run_images(keyed, tmp_path, should_stop=lambda: fake.counts["submit"] == 3)
    assert fake.counts["submit"] == 3 and fake.counts["cancel"] == 3
    assert fake.running() == 0  # nothing left running at fal
