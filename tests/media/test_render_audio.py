"""The render's captions and audio with real piper, espeak-ng and ffmpeg: words.json, karaoke
pixels, music ducked under the words, broadcast loudness, music alone, a corrupt music file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from chalicelib.pipeline.concept.storyboard import Concept, Scene
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media import soundtrack
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.video import compose_video
from chalicelib.pipeline.media.words import tokenize

LINES = ["The storm rolls in tonight.", "A keeper climbs the tower stairs.", "The lamp shines on."]
SCENE_S = 4.0
TONE_HZ = 55.0  # far below a voice's fundamental: the music's level can be read beside speech
ASPECT = "9:16"
BACKGROUND = (20, 30, 90)  # no yellow in it, so highlighted pixels are the caption's


def concept() -> Concept:
    return Concept(
        title="Storm",
        hashtags=[],
        scenes=[
            Scene(index=i, narration=line, visual="a flat colour", duration_s=SCENE_S)
            for i, line in enumerate(LINES)
        ],
    )


def stills(folder: Path, n: int = len(LINES)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"still-{i}.png"
        Image.new("RGB", ASPECTS[ASPECT], BACKGROUND).save(path)
        paths.append(path)
    return paths


def tone(path: Path, seconds: float = 5.0) -> Path:
    """A steady tone as WAV: shorter than the video, so the render must loop it."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=f={TONE_HZ}:d={seconds}:sample_rate=44100",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
    )
    return path


def frame(video: Path, at: float) -> np.ndarray:
    width, height = ASPECTS[ASPECT]
    raw = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            f"{at:.3f}",
            "-i",
            str(video),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3).astype(int)


def highlighted(pixels: np.ndarray) -> np.ndarray:
    """Mask of the karaoke highlight colour (gold: strong red and green, little blue)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 200) & (g > 150) & (b < 110)


def white(pixels: np.ndarray) -> np.ndarray:
    return (pixels > 215).all(axis=-1)


def samples(video: Path) -> tuple[np.ndarray, int]:
    rate = 44100
    raw = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(video),
            "-map",
            "0:a",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.float32), rate


def tone_db(audio: np.ndarray, rate: int, start: float, end: float) -> float:
    """Level of the music's tone in [start, end): its bin of a Hann-windowed spectrum."""
    piece = audio[int(start * rate) : int(end * rate)]
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
    freqs = np.fft.rfftfreq(len(piece), 1 / rate)
    near = (freqs > TONE_HZ - 6) & (freqs < TONE_HZ + 6)
    return 20 * np.log10(spectrum[near].max() + 1e-12)


@pytest.fixture(scope="module")
def karaoke_render(tmp_path_factory):
    """One render reused by the checks below: karaoke captions, looped music, loudness."""
    work = tmp_path_factory.mktemp("karaoke")
    result = compose_video(
        concept(),
        stills(work / "stills"),
        ASPECT,
        work / "render",
        music=tone(work / "music.wav"),
        music_volume=0.5,
    )
    return result, json.loads(result.words.read_text())


def test_words_json_covers_every_word_in_order_inside_the_audio(karaoke_render):
    result, data = karaoke_render
    words = data["words"]
    assert [w["text"] for w in words] == [t for line in LINES for t in tokenize(line)]
    assert all(0 <= w["start"] < w["end"] <= result.duration_s for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))
    for k in range(len(LINES)):  # each line's words inside its own scene
        assert all(
            k * SCENE_S <= w["start"] and w["end"] <= (k + 1) * SCENE_S for w in words if w["scene"] == k
        )
    assert data["timing"] == ["piper-alignment"] * 3 and data["voice"] == "en_US-joe-medium"
    vtt = result.vtt.read_text()
    srt = result.captions.read_text()
    assert vtt.startswith("WEBVTT") and "<00:00:0" in vtt and srt.startswith("1\n")
    assert "storm" in vtt and "storm" in srt


def test_the_karaoke_frame_highlights_the_word_being_spoken(karaoke_render):
    result, data = karaoke_render
    first_line = [w for w in data["words"] if w["scene"] == 0]
    target, other = first_line[1], first_line[3]  # "storm" and "in"
    during = frame(result.video, (target["start"] + target["end"]) / 2)
    later = frame(result.video, (other["start"] + other["end"]) / 2)
    lit_now, lit_later = highlighted(during), highlighted(later)
    assert lit_now.sum() > 400 and lit_later.sum() > 100  # a word is lit in both frames
    ys, xs = np.nonzero(lit_now)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    # the target's place: lit while it is spoken, white (not lit) while another word is
    assert lit_later[box].sum() < 0.05 * lit_now[box].sum()
    assert white(later[box]).sum() > 0.5 * lit_now[box].sum()
    # in the safe area: above the bottom 20% of a 9:16 frame
    assert ys.max() < 0.8 * ASPECTS[ASPECT][1]


def test_nothing_is_lit_in_the_pause_after_a_line(karaoke_render):
    result, data = karaoke_render
    last_of_line = [w for w in data["words"] if w["scene"] == 0][-1]
    pause = (last_of_line["end"] + SCENE_S) / 2 + 0.4
    assert highlighted(frame(result.video, pause)).sum() == 0


def test_music_is_at_least_10_db_lower_during_words_than_in_the_gaps(karaoke_render):
    result, data = karaoke_render
    audio, rate = samples(result.video)
    during, gaps = [], []
    for k in range(len(LINES)):
        line = [w for w in data["words"] if w["scene"] == k]
        first, last = line[0]["start"], line[-1]["end"]
        middle = (first + last) / 2
        during.append(tone_db(audio, rate, middle - 0.2, middle + 0.2))
        if k < len(LINES) - 1:  # the pause before the next scene's line (not the fade out)
            gap_mid = (last + (k + 1) * SCENE_S) / 2 + 0.3
            gaps.append(tone_db(audio, rate, gap_mid - 0.2, gap_mid + 0.2))
    assert min(gaps) - max(during) >= 10, (gaps, during)


def test_loudness_is_minus_14_lufs_with_true_peak_under_minus_1(karaoke_render):
    result, _ = karaoke_render
    measured = soundtrack.measure_file(result.video)
    assert measured == result.audio  # what the job reports is what the file measures
    assert abs(measured["integrated_lufs"] - (-14)) <= 0.5
    assert measured["true_peak_dbtp"] <= -1
    manifest = json.loads(result.manifest.read_text())
    assert manifest["audio"] == measured and manifest["music"] and manifest["narration"]


def test_music_without_narration_plays_at_full_level(tmp_path):
    result = compose_video(
        concept(),
        stills(tmp_path / "stills"),
        ASPECT,
        tmp_path / "render",
        music=tone(tmp_path / "music.wav"),
        music_volume=0.1,
        speak=False,
        caption_style="none",
    )
    audio, rate = samples(result.video)
    levels = [tone_db(audio, rate, t - 0.2, t + 0.2) for t in (1.5, 3.0, 5.0, 7.0, 9.0)]
    assert max(levels) - min(levels) < 1.5  # no ducking anywhere
    assert abs(result.audio["integrated_lufs"] - (-14)) <= 0.5 and result.audio["true_peak_dbtp"] <= -1
    assert json.loads(result.words.read_text())["words"] == []
    assert "The storm rolls in tonight." in result.captions.read_text()


def test_a_corrupt_music_file_fails_the_render_with_a_clear_code(tmp_path):
    music = tmp_path / "music.mp3"
    music.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64)
    with pytest.raises(StepError) as caught:
        compose_video(concept(), stills(tmp_path / "stills"), ASPECT, tmp_path / "render", music=music)
    assert caught.value.code == "music_unreadable" and not caught.value.transient
    assert caught.value.message == "the music upload is not audio we can play"  # ffmpeg's words: logs
    assert not list((tmp_path / "render").glob("video*"))


def test_a_finished_file_off_target_gets_its_audio_brought_within_half_an_lu(karaoke_render, tmp_path):
    result, _ = karaoke_render
    quiet = tmp_path / "quiet.mp4"
    shutil.copy(result.video, quiet)
    lowered = soundtrack._corrected(quiet, -3.0)  # the same file 3 dB under the target
    assert lowered is not None
    lowered[0].replace(quiet)
    before = soundtrack.measure_file(quiet)
    assert before["integrated_lufs"] < -16.5
    after = soundtrack.on_target(quiet, before)
    assert abs(after["integrated_lufs"] + 14) <= 0.5 and after["true_peak_dbtp"] <= -1
    assert soundtrack.measure_file(quiet) == after  # what is reported is what the file measures
