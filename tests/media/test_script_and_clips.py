"""Script mode (the user's words kept exactly, durations from the narration) and video-clip
scenes in the one-pass render, against real ffmpeg. Needs no database, Redis or S3."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import pytest
from PIL import Image, ImageStat

from chalicelib.pipeline.concept import script
from chalicelib.pipeline.media.images import render_scene_image
from chalicelib.pipeline.media.narration import Narration, write_silence
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.video import compose_video
from tests.fakes.media import frame_at, make_clip

THREE = "The tide goes out at dawn. A crab finds a shell!\n\nIs it home at last?"


def test_plain_text_splits_at_sentences_and_paragraphs_keeping_the_words():
    assert script.split_script(THREE) == [
        "The tide goes out at dawn.",
        "A crab finds a shell!",
        "Is it home at last?",
    ]
    assert script.split_script("No full stop here\n\nSecond paragraph  with\nbreaks") == [
        "No full stop here",
        "Second paragraph with breaks",
    ]
    assert script.split_script('He said "go." Then... we went.') == ['He said "go."', "Then...", "we went."]
    assert script.split_script("潮が引く。カニが来た。") == ["潮が引く。", "カニが来た。"]


def test_a_script_concept_keeps_the_lines_and_times_scenes_by_their_narration():
    request = {"script": THREE, "aspect": "9:16", "style": "ink"}
    concept = script.to_concept(request)
    assert [s.narration for s in concept.scenes] == script.split_script(THREE)
    assert concept.scenes[0].visual.endswith("ink style") and "tide" in concept.scenes[0].visual
    assert concept.title and concept.hashtags
    timed = script.timed(concept, request, [1.0, 2.5, 0.2])
    assert [s.duration_s for s in timed.scenes] == [1.6, 3.1, script.MIN_SCENE_S]


def test_given_durations_and_visuals_win_over_the_narration_length():
    request = {"scenes": [{"text": "One.", "visual": "a red door", "duration_s": 4}, {"text": "Two words."}]}
    concept = script.to_concept(request)
    assert concept.scenes[0].visual == "a red door" and concept.scenes[0].duration_s == 4
    timed = script.timed(concept, request, [0.5, 2.0])
    assert [s.duration_s for s in timed.scenes] == [4, 2.6]
    assert script.estimated_total(request) == pytest.approx(4 + script.spoken_length("Two words."))


def _silent(tmp_path: Path, seconds: list[float]) -> list[Narration]:
    out = []
    for i, s in enumerate(seconds):
        path = tmp_path / f"n{i}.wav"
        write_silence(path, s)
        out.append(Narration(path=path, duration_s=s, silent=True))
    return out


def _mean(image: Path, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    with Image.open(image) as frame:
        w, h = frame.size
        crop = frame.convert("RGB").crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
        return tuple(ImageStat.Stat(crop).mean)


def _loudness(video: Path) -> float:
    out = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-i",
            str(video),
            "-af",
            "volumedetect",
            "-vn",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    return float(re.search(r"mean_volume: (-?[\d.]+|-inf) dB", out.stderr).group(1))


def _mixed(tmp_path: Path, volume: float | None):
    request = {
        "scenes": [{"text": "A still first."}, {"text": "Then the clip."}, {"text": "A still again."}],
        "aspect": "9:16",
    }
    concept = script.to_concept(request)
    concept = concept.model_copy(
        update={"scenes": [s.model_copy(update={"duration_s": 2.0}) for s in concept.scenes]}
    )
    sources = [render_scene_image(concept, s, "9:16", tmp_path / f"s{s.index}.png") for s in concept.scenes]
    # A short landscape clip: it must loop to fill its 2 s scene and be cover-cropped to 9:16.
    # Its tags (a title, where it was shot) must not reach the video: renders drop input metadata.
    sources[1] = make_clip(
        tmp_path / "clip.mov",
        480,
        270,
        seconds=0.8,
        color="red",
        container="mov",
        metadata={"title": "my flat, 3rd floor", "location": "+48.8577+002.2950/"},
    )
    # lines: the scene's caption box over the clip (karaoke captions are tested with real speech)
    result = compose_video(
        concept,
        sources,
        "9:16",
        tmp_path / f"render-{volume}",
        narrations=_silent(tmp_path, [0.5, 0.5, 0.5]),
        clip_audio_volume=volume,
        caption_style="lines",
    )
    return concept, result


def test_stills_and_clips_render_in_one_pass_with_captions_across_both(tmp_path):
    concept, result = _mixed(tmp_path, None)
    info = probe(result.video)
    assert (info["width"], info["height"]) == (1080, 1920) and info["duration_s"] == pytest.approx(6, abs=0.1)
    with av.open(str(result.video)) as rendered:
        assert not {"title", "location"} & set(rendered.metadata)
    top = (0.1, 0.1, 0.9, 0.5)  # above the captions
    clip_late = _mean(
        frame_at(result.video, 3.7, tmp_path / "late.png"), top
    )  # past the clip's 0.8 s: looped
    assert clip_late[0] > 200 and clip_late[1] < 40 and clip_late[2] < 40
    still = _mean(frame_at(result.video, 1.0, tmp_path / "still.png"), top)
    assert not (still[0] > 200 and still[1] < 40)
    fading = _mean(frame_at(result.video, 2.05, tmp_path / "fade.png"), top)  # crossfade into the clip
    assert fading[1] > 40 or fading[0] < 200  # neither all still nor all clip: a blend
    caption = _mean(frame_at(result.video, 3.0, tmp_path / "cap.png"), (0.3, 0.76, 0.7, 0.84))
    assert caption != pytest.approx(clip_late, abs=30)  # the caption box sits on the clip
    srt = result.captions.read_text()
    assert [line for line in srt.splitlines() if line and "-->" not in line and not line.isdigit()] == [
        s.narration for s in concept.scenes
    ]


def test_a_clips_own_sound_is_dropped_unless_a_volume_is_asked(tmp_path):
    _, dropped = _mixed(tmp_path, None)
    _, mixed = _mixed(tmp_path, 1.0)
    assert _loudness(dropped.video) < -80  # silent narration, clip sound dropped
    assert _loudness(mixed.video) > -40
