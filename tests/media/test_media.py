"""The media pipeline against real ffmpeg and espeak-ng: concept, images, narration, captions,
the one-pass render, cancel, and probe. Needs no database, Redis or S3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.media import espeak, narration
from chalicelib.pipeline.media.captions import build_srt, load_font, wrap_text
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.images import ASPECTS, render_scene_image
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.video import compose_video

PROMPT = "A lighthouse keeper befriends a curious octopus during a storm"
SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)")


def _cues(srt: str) -> list[tuple[int, float, float, str]]:
    cues = []
    for m in SRT_CUE.finditer(srt):
        g = m.groups()
        start = int(g[1]) * 3600 + int(g[2]) * 60 + int(g[3]) + int(g[4]) / 1000
        end = int(g[5]) * 3600 + int(g[6]) * 60 + int(g[7]) + int(g[8]) / 1000
        cues.append((int(g[0]), start, end, g[9]))
    return cues


def _render(tmp_path: Path, aspect: str, duration_s: int = 6, **kwargs):
    concept = write_concept(PROMPT, duration_s)
    images = [
        render_scene_image(concept, s, aspect, tmp_path / f"scene-{s.index}.png") for s in concept.scenes
    ]
    return concept, compose_video(concept, images, aspect, tmp_path / "render", **kwargs)


def _ffmpeg_children() -> list[str]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(os.getpid())], capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if "ffmpeg" in line]


def test_concept_follows_prompt_and_duration():
    concept = write_concept(PROMPT, 30, style="comic")
    assert len(concept.scenes) >= 3
    assert sum(s.duration_s for s in concept.scenes) == pytest.approx(30, abs=1e-9)
    text = " ".join(s.narration + " " + s.visual for s in concept.scenes).lower()
    for word in ("lighthouse", "keeper", "octopus", "storm"):
        assert word in text
    assert [s.index for s in concept.scenes] == list(range(len(concept.scenes)))
    assert write_concept(PROMPT, 30, style="comic") == concept


def test_short_concept_still_has_three_scenes():
    concept = write_concept("cats", 5)
    assert len(concept.scenes) == 3
    assert sum(s.duration_s for s in concept.scenes) == pytest.approx(5, abs=1e-9)


@pytest.mark.parametrize("aspect", sorted(ASPECTS))
def test_scene_images_have_the_aspect_size_and_differ(tmp_path, aspect):
    concept = write_concept(PROMPT, 15)
    paths = [render_scene_image(concept, s, aspect, tmp_path / f"{s.index}.png") for s in concept.scenes[:2]]
    first, second = (Image.open(p).convert("RGB") for p in paths)
    assert first.size == second.size == ASPECTS[aspect]
    assert len(first.getcolors(maxcolors=1 << 20) or []) > 500
    assert min(ImageStat.Stat(first).stddev) > 10
    difference = ImageChops.difference(first, second).convert("L")
    assert ImageStat.Stat(difference).mean[0] > 10  # not a shifted copy: visibly another picture


def test_build_srt_numbers_cues_and_formats_timestamps():
    srt = build_srt([(0, 1.5, "one"), (1.5, 3723.0456, "two")])
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\none\n")
    assert "2\n00:00:01,500 --> 01:02:03,046\ntwo\n" in srt


def test_wrap_text_fits_the_width():
    font = load_font(40)
    lines = wrap_text(
        "a caption that is far too long for one line " * 3 + "Pneumonoultramicroscopic", font, 300
    )
    assert len(lines) > 3 and all(font.getlength(line) <= 300 for line in lines)


def test_narration_speaks_with_espeak(tmp_path):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    result = narration.synthesize("Hello from the lighthouse.", tmp_path / "n.wav", voice="en-us")
    assert not result.silent and result.duration_s > 0.5
    with wave.open(str(result.path)) as wav:
        assert max(wav.readframes(wav.getnframes())) > 0


@pytest.fixture
def no_speech_engine(monkeypatch):
    """A worker with neither piper's voice nor libespeak-ng."""
    monkeypatch.setattr(narration, "piper_speaks", lambda voice, language: None)
    monkeypatch.setattr(espeak, "find_library", lambda: None)
    espeak._library.cache_clear()
    yield
    espeak._library.cache_clear()


@pytest.mark.parametrize("aspect", sorted(ASPECTS))
def test_compose_video_renders_every_aspect(tmp_path, aspect):
    seen: list[int] = []
    concept, result = _render(tmp_path, aspect, on_progress=seen.append)
    info = probe(result.video)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert (info["width"], info["height"]) == ASPECTS[aspect]
    assert info["fps"] == pytest.approx(30)
    assert info["duration_s"] == pytest.approx(6, rel=0.10)
    assert result.duration_s == pytest.approx(6, rel=0.10)
    assert seen == sorted(seen) and seen[-1] == 100
    assert Image.open(result.thumbnail).format == "JPEG"
    cues = _cues(result.captions.read_text())  # a cue per karaoke phrase, in order
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1)) and len(cues) >= len(concept.scenes)
    assert " ".join(c[3] for c in cues) == " ".join(s.narration for s in concept.scenes)
    assert all(start < end for _, start, end, _ in cues)
    assert all(a[2] <= b[1] for a, b in zip(cues, cues[1:]))
    assert cues[-1][2] <= info["duration_s"] + 0.05
    assert not list(result.video.parent.glob("*.part"))


def test_compose_video_cancel_kills_ffmpeg_and_leaves_no_video(tmp_path):
    ticks: list[int] = []
    with pytest.raises(RenderCanceled):
        _render(tmp_path, "9:16", on_progress=ticks.append, should_cancel=lambda: bool(ticks))
    render = tmp_path / "render"
    assert not (render / "video.mp4").exists() and not list(render.glob("video*"))
    assert _ffmpeg_children() == []


def test_compose_video_cancel_during_encode(tmp_path):
    ticks: list[int] = []
    with pytest.raises(RenderCanceled):
        _render(
            tmp_path,
            "9:16",
            duration_s=30,
            on_progress=ticks.append,
            should_cancel=lambda: any(t > 5 for t in ticks),
        )
    assert max(ticks) < 100
    assert not list((tmp_path / "render").glob("video*"))
    assert _ffmpeg_children() == []


def test_silent_narration_still_renders(tmp_path, no_speech_engine):
    _, result = _render(tmp_path, "1:1", duration_s=5)
    assert result.silent_narration
    assert probe(result.video)["audio_codec"] == "aac"


def test_probe_rejects_files_that_are_not_video(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    image = tmp_path / "still.png"
    Image.new("RGB", (64, 64), "red").save(image)
    for path in (text, image, tmp_path / "missing.mp4"):
        with pytest.raises(ValueError):
            probe(path)


def test_offline_lines_are_sentences_made_of_the_prompt():
    prompt = "Sunset over the mountains, then a fox crosses the river and finds a lost glove"
    lines = [s.narration for s in write_concept(prompt, 30).scenes]
    assert lines[:3] == [
        "Sunset over the mountains.",
        "A fox crosses the river.",
        "The fox finds a lost glove.",
    ]
    assert lines[-1] == "That is how a fox crosses the river."
    assert all(line[0].isupper() and line.endswith(".") for line in lines)
    assert len(set(lines)) == len(lines)


def test_a_short_prompt_opens_the_video_word_for_word():
    concept = write_concept(PROMPT, 30)
    assert concept.scenes[0].narration == PROMPT + "."
    assert "the curious octopus" in " ".join(s.narration for s in concept.scenes)


def test_a_reference_image_shows_through_the_scene(tmp_path):
    concept = write_concept(PROMPT, 5)
    means = {}
    for color in ("red", "blue"):
        reference = tmp_path / f"{color}.jpg"
        Image.new("RGB", (640, 480), color).save(reference)
        path = render_scene_image(concept, concept.scenes[0], "9:16", tmp_path / f"{color}.png", reference)
        image = Image.open(path)
        assert image.size == ASPECTS["9:16"]
        means[color] = ImageStat.Stat(image.convert("RGB")).mean
    assert means["red"][0] - means["blue"][0] > 60 and means["blue"][2] - means["red"][2] > 60
