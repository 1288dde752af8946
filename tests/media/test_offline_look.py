"""The offline look (issue 27): no stage directions on screen, key words as kinetic type timed
to the voice and clear of the captions, a look per style, checked on what is drawn."""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg
import pytest
from PIL import Image, ImageStat

from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.media import kinetic, looks
from chalicelib.pipeline.media.contact_sheet import sheet_times, write_contact_sheet
from chalicelib.pipeline.media.images import ASPECTS, render_scene_image
from chalicelib.pipeline.media.video import compose_video
from chalicelib.pipeline.media.words import Word

PROMPT = "Why octopuses are the smartest animals in the ocean"


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
