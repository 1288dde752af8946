"""The video's sound as the render builds it: each narration line where it plays, the music under
it, the sound of the user's clips, and the loudness pass one measures (the filtergraph itself is
soundtrack.py's). The video pass (video.py) and the audio-only measuring passes share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.pipeline.media import ffmpeg_inputs, soundtrack
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.narration import Narration
from chalicelib.pipeline.media.words import Word


@dataclass
class AudioPlan:
    """The audio side of a render (see soundtrack): where each narration line plays, the music
    under it, and pass one's loudness measurements (None: measure; False: no normalization)."""

    places: list[soundtrack.Placement]
    music: Path | None = None
    music_volume: float = 0.35
    words: list[Word] | None = None
    loudness: dict | None | bool = False
    clips: dict[int, tuple[Path, float]] = field(default_factory=dict)  # scene -> (clip, volume)


def audio_input_args(narrations: list[Narration], audio: AudioPlan) -> list[str]:
    """Narration WAVs, then the music looped (its demuxer pinned, as every input's)."""
    argv = [arg for n in narrations[: len(audio.places)] for arg in ffmpeg_inputs.file_input(n.path, "wav")]
    if audio.music is not None:
        argv += ffmpeg_inputs.file_input(
            audio.music, soundtrack.music_format(audio.music), "-stream_loop", "-1"
        )
    return argv


def audio_graph(
    first_input: int, narrations: list[Narration], audio: AudioPlan, total: float, clip_inputs: dict[int, int]
) -> tuple[list[str], str]:
    """`clip_inputs`: scene index -> the input index of that clip (its sound mixed under)."""
    music_input = first_input + len(audio.places) if audio.music is not None else None
    clips = {
        k: (clip_inputs[k], audio.places[k].scene_s, volume)
        for k, (_, volume) in audio.clips.items()
        if k < len(audio.places)
    }
    return soundtrack.audio_parts(
        first_input,
        audio.places,
        music_input,
        audio.music_volume,
        audio.words or [],
        total,
        audio.loudness,
        clips,
    )


def measure_loudness(narrations: list[Narration], audio: AudioPlan, total: float) -> dict | None:
    """The loudness gain for the video pass, from audio-only passes of the same graph (the
    clips with sound are inputs there too, after the narration and music)."""

    def measure(loudness: dict | None) -> dict | None:
        plan = AudioPlan(audio.places, audio.music, audio.music_volume, audio.words, loudness, audio.clips)
        inputs = audio_input_args(narrations, plan)
        first_clip = len(audio.places) + (audio.music is not None)
        clip_inputs = {}
        for i, (k, (path, _)) in enumerate(sorted(plan.clips.items())):
            inputs += ffmpeg_inputs.file_input(path, "mov", "-stream_loop", "-1")
            clip_inputs[k] = first_clip + i
        parts, label = audio_graph(0, narrations, plan, total, clip_inputs)
        return soundtrack.measure_mix(inputs, parts, label)

    return soundtrack.loudness_gain(measure)


def video_words(narrations: list[Narration], places: list[soundtrack.Placement]) -> list[list[Word]]:
    """Each scene's words in seconds of the video: where its line plays, at its tempo."""
    return [words_mod.shifted(n.words, p.offset, p.tempo, p.end) for n, p in zip(narrations, places)]
