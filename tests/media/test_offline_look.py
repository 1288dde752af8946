"""The offline look (issue 27): no stage directions on screen, key words as kinetic type timed
to the voice and clear of the captions, a look per style, checked on what is drawn."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat, PngImagePlugin

from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.media import kinetic, looks
from chalicelib.pipeline.media.contact_sheet import sheet_times, write_contact_sheet
from chalicelib.pipeline.media.images import ASPECTS, render_scene_image
from chalicelib.pipeline.media.video import compose_video
from chalicelib.pipeline.media.words import Word

PROMPT = "Why octopuses are the smartest animals in the ocean"
OUT = Path(__file__).resolve().parents[2] / "out" / "look"  # contact sheets for a reviewer


def _frame(video: Path, n: int, path: Path) -> Image.Image:
    """Frame number n of the video, decoded by ffmpeg (every frame up to it, no seeking)."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-vf",
            f"select=eq(n\\,{n})",
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
    )
    return Image.open(path).convert("RGB")


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def _words(line: str, start: float = 0.3, step: float = 0.3) -> list[Word]:
    return [Word(w, start + i * step, start + (i + 1) * step - 0.05) for i, w in enumerate(line.split())]


def test_scene_stills_carry_no_text_and_name_their_look(tmp_path):
    concept = write_concept(PROMPT, 10, style="neon")
    blank = concept.model_copy(update={"title": concept.title})
    scene = concept.scenes[0]
    drawn = render_scene_image(concept, scene, "9:16", tmp_path / "a.png", style="neon")
    other_visual = scene.model_copy(update={"visual": "a completely different stage direction"})
    redrawn = render_scene_image(blank, other_visual, "9:16", tmp_path / "b.png", style="neon")
    # the visual text changes nothing on the picture: it is never drawn
    assert Image.open(drawn).tobytes() == Image.open(redrawn).tobytes()
    assert looks.of_still(drawn) == (looks.LOOKS["neon"], False)


@pytest.mark.parametrize("name", sorted(looks.LOOKS))
def test_on_a_reference_photo_the_key_words_are_light(tmp_path, name):
    reference = tmp_path / "ref.png"
    Image.new("RGB", (64, 96), (200, 120, 40)).save(reference)  # the console test's picture
    concept = write_concept(PROMPT, 6)
    style = looks.STYLE_WORDS[name][0]
    still = render_scene_image(concept, concept.scenes[0], "9:16", tmp_path / "s.png", reference, style)
    look, dark_ink = looks.of_still(still)
    assert look.name == name and not dark_ink
    assert look.ink == (255, 255, 255) and sum(look.accent) >= 200  # both read on the darkened photo


def test_styles_choose_distinct_named_looks_deterministically():
    assert looks.choose("cinematic", "T").name == "midnight"
    assert looks.choose("watercolor painting", "T").name == "paper"
    assert looks.choose("comic", "T").name == "citrus"
    assert looks.choose(None, "Octopuses") == looks.choose(None, "Octopuses")
    assert len({looks.choose(f"style {i}", "T").name for i in range(40)}) == len(looks.LOOKS)


def test_key_phrase_skips_stop_words_and_prefers_the_topic():
    words = _words("Look closer at the octopuses.")
    picked = [words[i].text for i in kinetic.key_phrase(words, "en", frozenset({"octopuses"}))]
    assert "octopuses." in picked and "the" not in picked and "at" not in picked
    fr = _words("Et ce n'est pas tout.")
    assert all(fr[i].text != "n'est" for i in kinetic.key_phrase(fr, "fr"))


@pytest.mark.parametrize("aspect", sorted(ASPECTS))
def test_key_words_stay_inside_the_safe_area_above_the_captions(aspect):
    size = ASPECTS[aspect]
    look = looks.LOOKS["citrus"]
    block = kinetic.layout(
        ["Extraordinarily", "smartest", "animals"], [0.1, 0.5, 0.9], size, aspect, look, "en"
    )
    assert block is not None
    side = size[0] * 0.08
    for line in block.lines:
        width = kinetic._font(looks.FONT_FILES[block.font], line.px).getlength(line.text)
        left = {7: line.x, 8: line.x - width / 2, 9: line.x - width}[block.anchor]
        assert left >= side - 1 and left + width <= size[0] - side + 1
        assert line.y >= size[1] * kinetic.TOP_MARGIN[aspect]
    assert block.bottom < kinetic.caption_top(size, aspect)
    loud = next(line for line in block.lines if line.loud)
    assert all(loud.px > line.px for line in block.lines if not line.loud)  # a hierarchy


def test_right_to_left_words_align_right_and_undrawable_scripts_fall_back():
    size, look = ASPECTS["9:16"], looks.LOOKS["midnight"]
    arabic = kinetic.layout(["الأخطبوط", "ذكي"], [0.1, 0.4], size, "9:16", look, "ar")
    assert arabic is not None and arabic.anchor == 9
    assert kinetic.layout(["章鱼很聪明"], [0.1], size, "9:16", look, "zh") is None  # no font draws it


def test_a_rendered_offline_video_shows_key_words_on_the_voice(tmp_path):
    concept = write_concept(PROMPT, 6, style="cinematic")
    stills = [
        render_scene_image(concept, s, "16:9", tmp_path / f"s{s.index}.png", style="cinematic")
        for s in concept.scenes
    ]
    result = compose_video(concept, stills, "16:9", tmp_path / "render")
    script = (tmp_path / "render" / "captions.ass").read_text()
    key_events = [line for line in script.splitlines() if ",Key," in line]
    assert key_events
    shown = " ".join(re.sub(r"\{[^}]*\}", "", e.split(",,", 1)[1]) for e in key_events).lower()
    for scene in concept.scenes:  # no stage direction on screen
        assert scene.visual.lower() not in script.lower()
    assert "octopuses" in shown
    starts = sorted({e.split(",")[1] for e in key_events})
    spoken = {w.start for w in result.spoken_words or []}
    assert len(starts) >= 3 and spoken  # words arrive at several moments, as they are said
    sheet = write_contact_sheet(result.video, tmp_path / "sheet.png", sheet_times(result.duration_s, 3))
    with Image.open(sheet) as image:
        assert image.size[0] == 3 * 360
    # the key-word band is brighter (text) than the same band of the bare backdrop
    frame = tmp_path / "frame.png"
    at = max(w.end for w in result.spoken_words if w.end < concept.scenes[0].duration_s)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-ss",
            f"{at:.2f}",
            "-i",
            str(result.video),
            "-frames:v",
            "1",
            str(frame),
        ],
        check=True,
    )
    band = (0, int(1080 * 0.1), 1920, int(kinetic.caption_top((1920, 1080), "16:9")))
    rendered = ImageStat.Stat(Image.open(frame).convert("L").crop(band))
    backdrop = ImageStat.Stat(Image.open(stills[0]).convert("L").crop(band))
    assert rendered.extrema[0][1] > backdrop.extrema[0][1] + 60


@pytest.mark.parametrize("name", sorted(looks.LOOKS))
def test_each_look_renders_a_contact_sheet_and_a_thumbnail_that_is_a_frame_of_it(tmp_path, name):
    style = looks.STYLE_WORDS[name][0]
    concept = write_concept(PROMPT, 6, style=style)
    stills = [
        render_scene_image(concept, s, "9:16", tmp_path / f"s{s.index}.png", style=style)
        for s in concept.scenes
    ]
    assert looks.of_still(stills[0])[0].name == name
    result = compose_video(concept, stills, "9:16", tmp_path / "render")
    sheet = write_contact_sheet(result.video, OUT / f"contact-{name}.png", sheet_times(result.duration_s))
    with Image.open(sheet) as image:
        assert image.size[0] == 6 * 360
    # the thumbnail is the rendered frame it names: the first scene, its key phrase all shown
    chosen = json.loads(result.manifest.read_text())["thumbnail_frame"]
    assert 0 < chosen < concept.scenes[0].duration_s * 30
    thumbnail = Image.open(result.thumbnail).convert("RGB")
    assert thumbnail.width == 540
    frame = _frame(result.video, chosen, tmp_path / "frame.png").resize(
        thumbnail.size, Image.Resampling.LANCZOS
    )
    assert _mean_difference(thumbnail, frame) < 3  # JPEG's loss, nothing more
    far = _frame(result.video, round(result.duration_s * 30) - 5, tmp_path / "far.png")
    assert _mean_difference(thumbnail, far.resize(thumbnail.size, Image.Resampling.LANCZOS)) > 6
    # ... not the still: the key words are drawn on it, in the band above the captions
    still = Image.open(stills[0]).convert("RGB").resize(thumbnail.size, Image.Resampling.LANCZOS)
    top = round(thumbnail.height * kinetic.TOP_MARGIN["9:16"])
    bottom = round(kinetic.caption_top((1080, 1920), "9:16") * thumbnail.height / 1920)
    band = (0, top, thumbnail.width, bottom)
    drawn = ImageChops.difference(thumbnail.crop(band), still.crop(band)).convert("L").point(lambda v: v > 60)
    assert ImageStat.Stat(drawn).mean[0] > 0.02  # over 2% of the band is type (4-7% here)


def _textured_still(path: Path, look: str, size: tuple[int, int]) -> Path:
    """A checkerboard in an offline look (its PNG chunk), so any motion shows in every pixel."""
    image = Image.new("RGB", size, (20, 20, 20))
    draw = ImageDraw.Draw(image)
    for y in range(0, size[1], 16):
        for x in range((y // 16) % 2 * 16, size[0], 32):
            draw.rectangle((x, y, x + 15, y + 15), fill=(235, 235, 235))
    info = PngImagePlugin.PngInfo()
    info.add_text(looks.LOOK_KEY, look)
    image.save(path, format="PNG", pnginfo=info)
    return path


@pytest.mark.parametrize("name", sorted(looks.LOOKS))
def test_each_look_moves_its_backdrop_as_its_camera_says(tmp_path, name):
    look, size = looks.LOOKS[name], ASPECTS["1:1"]
    concept = write_concept("cats", 5)
    stills = [_textured_still(tmp_path / f"s{s.index}.png", name, size) for s in concept.scenes]
    result = compose_video(concept, stills, "1:1", tmp_path / "render", speak=False, caption_style="none")
    last = round(concept.scenes[0].duration_s * 30) - 3  # still the first scene, before the crossfade
    band = (0, int(size[1] * 0.86), size[0], int(size[1] * 0.96))  # below the key words: backdrop only
    early = _frame(result.video, 2, tmp_path / "early.png").crop(band)
    late = _frame(result.video, last, tmp_path / "late.png").crop(band)
    moved = _mean_difference(early, late)
    if look.camera is looks.Camera.STILL:
        assert moved < 3
    else:
        assert moved > 20
