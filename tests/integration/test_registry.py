"""One registry for providers and pipelines: ours, and an installed package's entry points in
the `media_orchestrator.plugins` group. A new provider is one module and one entry point."""

from __future__ import annotations

import textwrap

import pytest
from PIL import Image

from chalicelib.pipeline import provider_chain, providers, registry
from chalicelib.pipeline.concept import script

PLUGIN = """
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline.registry import Provider


def solid_images(task, client):
    from PIL import Image
    from chalicelib.pipeline.media.images import ASPECTS

    todo = task.todo()
    for scene, path in todo:
        Image.new("RGB", ASPECTS[task.request["aspect"]], (0, 128, 255)).save(path)
    return None, StepUsage(purpose="image", provider="solid", images=len(todo))


PROVIDER = Provider(purpose="image", name="solid", run=solid_images)
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package installed the way pip leaves one: its module and a dist-info with entry points."""
    (tmp_path / "solid_provider.py").write_text(PLUGIN)
    info = tmp_path / "solid_provider-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: solid-provider\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [media_orchestrator.plugins]
        solid = solid_provider:PROVIDER
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()


def test_our_providers_and_pipelines_are_in_the_registry():
    table = registry.providers()
    assert list(table["image"]) == ["offline", "openai", "pexels", "fal", "replicate"]
    assert list(table["narration"]) == ["offline", "openai", "elevenlabs"]
    assert registry.keyed() == {
        "openai": "https://api.openai.com/v1",
        "pexels": "https://api.pexels.com",
        "fal": "https://queue.fal.run",
        "elevenlabs": "https://api.elevenlabs.io",
        "replicate": "https://api.replicate.com",
    }
    assert set(registry.pipelines()) == {"steps", "command"}
    assert set(registry.pipelines()["command"].step_functions()) == {"concept", "image", "video", "upload"}
    assert providers.AVAILABLE["image"] == ("offline", "openai", "pexels", "fal", "replicate")


def test_an_installed_plugin_provider_is_offered_and_runs(installed_plugin, api, user, tmp_path):
    assert providers.AVAILABLE["image"][-1] == "solid"
    catalog = {i["step"]: i for i in api.call("GET", "/v1/providers", token=user["token"]).json["items"]}
    assert {"name": "solid", "needs_key": False, "has_key": True} in catalog["image"]["providers"]
    job = {"script": "One. Two.", "providers": {"image": "solid"}}
    assert api.call("POST", "/v1/jobs", job, token=user["token"]).status_code == 202

    request = {**job, "aspect": "1:1"}
    concept = script.to_concept(request)
    paths = [tmp_path / f"scene-{i}.png" for i in range(len(concept.scenes))]
    outcome = provider_chain.run(
        "image",
        provider_chain.Task(request=request, user_id=user["user"]["id"], concept=concept, paths=paths),
    )
    assert outcome.provider == "solid" and outcome.usage[0].images == 2
    with Image.open(paths[1]) as image:
        assert image.size == (1080, 1080) and image.getpixel((5, 5)) == (0, 128, 255)


def test_without_the_plugin_its_name_is_an_unknown_provider(api, user):
    job = {"script": "One.", "providers": {"image": "solid"}}
    response = api.call("POST", "/v1/jobs", job, token=user["token"])
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_provider"
