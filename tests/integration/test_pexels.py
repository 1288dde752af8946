"""The Pexels stock-footage provider for the image step, against a local fake Pexels server
serving real small MP4s, with the key stored through the API (KMS on the emulator) and the
download cache in S3."""

from __future__ import annotations

import secrets

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import db, storage
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.remote import pexels
from tests.fakes.media import make_8k_clip, make_lying_clip
from tests.fakes.pexels_server import FakePexels

SCENES = [
    {"text": "Waves roll in.", "visual": "ocean waves"},
    {"text": "A fox waits.", "visual": "red fox"},
    {"text": "Night falls.", "visual": "city night"},
]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    with FakePexels(tmp_path, api_key=f"pexels-{secrets.token_hex(8)}") as server:
        monkeypatch.setattr(get_settings(), "pexels_api_url", server.base_url)  # the operator's setting
        yield server


def store_key(api, user, fake: FakePexels, key: str | None = None) -> None:
    response = api.call(
        "PUT", "/v1/provider-keys/pexels", {"api_key": key or fake.api_key}, token=user["token"]
    )
    assert response.status_code == 200, response.body


def run_images(
    user, tmp_path, job_id: str | None = None, scenes=SCENES
) -> tuple[provider_chain.Outcome, list]:
    request = {"scenes": scenes, "aspect": "9:16", "providers": {"image": "pexels"}}
    concept = script.to_concept(request)
    concept = concept.model_copy(
        update={"scenes": [s.model_copy(update={"duration_s": 4.0}) for s in concept.scenes]}
    )
    work = tmp_path / secrets.token_hex(3)
    work.mkdir()
    paths = [work / f"scene-{i + 1:02d}.png" for i in range(len(concept.scenes))]
    task = provider_chain.Task(
        request=request,
        user_id=user["user"]["id"],
        concept=concept,
        paths=paths,
        job_id=job_id or f"job_{secrets.token_hex(6)}",
    )
    outcome = provider_chain.run("image", task)
    sources = [p.with_suffix(".mp4") if p.with_suffix(".mp4").exists() else p for p in paths]
    return outcome, sources


def test_the_catalog_offers_pexels_for_images_with_the_users_key(api, user, fake):
    store_key(api, user, fake)
    items = {i["step"]: i for i in api.call("GET", "/v1/providers", token=user["token"]).json["items"]}
    assert {"name": "pexels", "needs_key": True, "has_key": True} in items["image"]["providers"]
    job = {"scenes": [{"text": "Hi."}], "providers": {"image": "pexels"}}
    assert api.call("POST", "/v1/jobs", job, token=user["token"]).status_code == 202


def test_each_scene_gets_a_long_enough_clip_near_the_aspect_in_the_smallest_tall_rendition(
    api, user, fake, tmp_path
):
    store_key(api, user, fake)
    fake.add_video("ocean waves", 1920, 1080, 30, "blue")  # landscape: far from 9:16
    short = fake.add_video("ocean waves", 1080, 1920, 2, "green")  # portrait but too short
    best = fake.add_video(
        "ocean waves", 1080, 1920, 12, "red", renditions=((360, 640), (1080, 1920), (2160, 3840))
    )
    fake.add_video("red fox", 1080, 1920, 8, "orange")
    fake.add_video("city night", 1080, 1920, 8, "purple")
    outcome, sources = run_images(user, tmp_path)
    assert outcome.provider == "pexels"
    assert outcome.notes[0] == (
        f"image: scene 1: video by Fake Filmmaker on Pexels (https://www.pexels.com/video/{best['id']}/)"
    )
    assert len(outcome.notes) == 3 and all(
        "on Pexels (https://www.pexels.com/video/" in n for n in outcome.notes
    )
    assert [s.suffix for s in sources] == [".mp4"] * 3
    assert all(probe(s)["video_codec"] == "h264" for s in sources)
    files = [r["path"] for r in fake.calls("/files/")]
    assert f"/files/video-{best['id']}-1080x1920.mp4" in files and f"video-{short['id']}-" not in str(files)
    searches = fake.calls("/videos/search")
    assert (
        searches[0]["query"]["query"] == "ocean waves" and searches[0]["query"]["orientation"] == "portrait"
    )
    assert {r["authorization"] for r in searches} == {fake.api_key}
    assert outcome.usage[0].images == 3 and outcome.usage[0].bytes > 0


def test_no_video_falls_back_to_a_photo_then_to_the_offline_still_with_notes(api, user, fake, tmp_path):
    store_key(api, user, fake)
    fake.add_video("ocean waves", 1080, 1920, 8, "blue")
    fake.add_photo("red fox", "orange")
    outcome, sources = run_images(user, tmp_path)
    assert [s.suffix for s in sources] == [".mp4", ".png", ".png"]
    assert any("scene 2 has no Pexels video" in n and "photo instead" in n for n in outcome.notes)
    assert any(n.startswith("image: scene 2: photo by Fake Photographer on Pexels") for n in outcome.notes)
    assert any("scene 3 has no Pexels video or photo" in n and "offline still" in n for n in outcome.notes)


def test_downloads_are_cached_by_id_for_the_jobs_retries(api, user, fake, tmp_path):
    store_key(api, user, fake)
    fake.add_video("ocean waves red fox city night", 1080, 1920, 8, "blue")
    job_id = f"job_{secrets.token_hex(6)}"
    run_images(user, tmp_path, job_id)
    first = len(fake.calls("/files/"))
    assert first == 1  # three scenes, one clip: fetched once
    _, sources = run_images(user, tmp_path, job_id)  # the retry
    assert len(fake.calls("/files/")) == first and all(s.suffix == ".mp4" for s in sources)
    assert storage.exists(
        pexels.cache_key(job_id, f"video-{fake.videos[0]['id']}-{fake.videos[0]['video_files'][0]['id']}.mp4")
    )


def test_a_used_up_rate_limit_is_waited_for_when_the_reset_is_near(api, user, tmp_path, monkeypatch):
    with FakePexels(tmp_path, "pexels-key-ratelimit", quota=1, reset_in_s=6) as fake:
        monkeypatch.setattr(get_settings(), "pexels_api_url", fake.base_url)
        store_key(api, user, fake)
        fake.add_video("ocean waves red fox city night", 1080, 1920, 8, "blue")
        outcome, sources = run_images(user, tmp_path, scenes=SCENES[:2])
    assert [s.suffix for s in sources] == [".mp4", ".mp4"]
    assert any("waited" in n and "rate limit" in n for n in outcome.notes)
    assert not [r for r in fake.requests if r["path"] == "/videos/search"][2:]  # no request wasted


def test_a_rate_limit_far_from_its_reset_falls_back_without_hammering(api, user, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "provider_retry_after_max_s", 0.5)
    with FakePexels(tmp_path, "pexels-key-exhausted", quota=1, reset_in_s=60) as fake:
        monkeypatch.setattr(get_settings(), "pexels_api_url", fake.base_url)
        store_key(api, user, fake)
        fake.add_video("ocean waves red fox city night", 1080, 1920, 8, "blue")
        outcome, sources = run_images(user, tmp_path, scenes=SCENES[:2])
    assert [s.suffix for s in sources] == [".mp4", ".png"]
    assert any("rate limit" in n and "offline still" in n for n in outcome.notes)
    assert len(fake.calls("/videos/search")) == 1 and not fake.calls("/v1/search")


def test_a_file_over_the_size_cap_is_not_kept(api, user, fake, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "stock_max_bytes", 1000)
    store_key(api, user, fake)
    fake.add_video("ocean waves", 1080, 1920, 8, "blue")
    outcome, sources = run_images(user, tmp_path, scenes=SCENES[:1])
    assert sources[0].suffix == ".png" and not sources[0].with_suffix(".mp4").exists()
    assert any("over the cap" in n for n in outcome.notes)


def test_a_rejected_pexels_key_fails_the_step(api, user, fake, tmp_path):
    store_key(api, user, fake, key="not-the-right-key")
    with pytest.raises(ProviderError) as raised:
        run_images(user, tmp_path, scenes=SCENES[:1])
    assert raised.value.code == "provider_key_rejected" and "not-the-right-key" not in raised.value.message


def test_redirects_are_followed_but_never_to_an_address_we_would_not_call(api, user, fake, tmp_path):
    store_key(api, user, fake)
    cdn = fake.add_video("ocean waves", 1080, 1920, 8, "blue")
    inside = fake.add_video("red fox", 1080, 1920, 8, "orange")
    cdn_name = cdn["video_files"][0]["link"].rsplit("/", 1)[-1]
    fake.files["cdn-copy.mp4"] = fake.files[cdn_name]
    fake.redirects[cdn_name] = f"{fake.base_url}/files/cdn-copy.mp4"
    fake.redirects[inside["video_files"][0]["link"].rsplit("/", 1)[-1]] = (
        "http://169.254.169.254/latest/meta-data/iam"
    )
    outcome, sources = run_images(user, tmp_path, scenes=SCENES[:2])
    assert [s.suffix for s in sources] == [".mp4", ".png"]
    assert "/files/cdn-copy.mp4" in [r["path"] for r in fake.calls("/files/")]
    assert any("scene 2" in n and "provider_url_blocked" in n for n in outcome.notes)


def test_a_stalling_search_is_cut_at_its_deadline_and_an_endless_file_at_its_cap(tmp_path, monkeypatch):
    from tests.fakes.hostile_server import HostileServer

    monkeypatch.setattr(get_settings(), "provider_timeout_s", 1.0)
    monkeypatch.setattr(get_settings(), "provider_max_retries", 0)
    with HostileServer("trickle") as server, pytest.raises(ProviderError) as stalled:
        pexels.PexelsClient(api_key="k", base_url=server.url).get("/videos/search", {"query": "fox"})
    assert (stalled.value.code, stalled.value.transient) == ("provider_unavailable", True)
    target = tmp_path / "clip.mp4"
    with HostileServer("endless") as server, pytest.raises(ProviderError) as endless:
        pexels.PexelsClient(api_key="k").download(f"{server.url}/clip.mp4", target, 64 * 1024, 10.0)
    assert (endless.value.code, endless.value.transient) == ("provider_bad_output", False)
    assert not target.exists()  # no partial file is left to be mistaken for a clip


def test_a_pexels_key_takes_no_base_url_and_an_old_one_is_ignored(api, user, fake, tmp_path):
    refused = api.call(
        "PUT",
        "/v1/provider-keys/pexels",
        {"api_key": fake.api_key, "base_url": "https://stock.example.com"},
        token=user["token"],
    )
    assert refused.status_code == 422, refused.body
    assert refused.json["error"]["details"][0]["field"] == "base_url"
    assert api.call("GET", "/v1/provider-keys", token=user["token"]).json["items"] == []
    # a key stored with a base_url before it was refused still calls only the configured API
    store_key(api, user, fake)
    db.execute(
        "UPDATE provider_keys SET base_url = %s WHERE user_id = %s AND provider = 'pexels'",
        ("https://stock.example.com", user["user"]["id"]),
    )
    fake.add_video("ocean waves", 1080, 1920, 8, "blue")
    outcome, sources = run_images(user, tmp_path, scenes=SCENES[:1])
    assert sources[0].suffix == ".mp4" and fake.calls("/videos/search")


def test_stock_clips_get_the_clip_checks_before_the_render(api, user, fake, tmp_path):
    # a title posing as 5 s of 320x240 over 45 s of 2400x2400 (free plan: 30 s, 1920 px), and an
    # 8K frame (over the pixel limit): both are probed, refused, and the scenes fall back
    store_key(api, user, fake)
    fake.add_video("ocean waves", 1080, 1920, 8, "blue", clip=make_lying_clip(tmp_path / "lying.mp4"))
    fake.add_video("red fox", 1080, 1920, 8, "blue", clip=make_8k_clip(tmp_path / "8k.mp4"))
    fake.add_photo("red fox", "orange")
    outcome, sources = run_images(user, tmp_path, scenes=SCENES[:2])
    assert [s.suffix for s in sources] == [".png", ".png"]
    assert not any(p.with_suffix(".mp4").exists() for p in sources)
    notes = " ".join(outcome.notes)
    assert "the Pexels video is unusable: the clip lasts 45.0 s" in notes
    assert "8192x8192 is over" in notes
    assert any(n.startswith("image: scene 2: photo by Fake Photographer") for n in outcome.notes)
