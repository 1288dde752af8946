"""The video step's render: narration, captions, the loudness pass and ONE ffmpeg pass (its
filtergraph: filtergraph.py; its sound: audio_track.py), then the caption files, the measured
levels (render.json) and the thumbnail (a frame of the video). The output lasts exactly the
concept's total duration.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.media import audio_track, ffmpeg, karaoke, kinetic, looks, soundtrack
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.captions import build_srt, render_caption
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.filtergraph import Timeline, build_command, is_clip, placements, plan_timeline
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.narration import Narration, synthesize
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.thumbnail import representative_frame, write_thumbnail
from chalicelib.pipeline.media.words import Word

TIMEOUT_BASE_S, TIMEOUT_PER_VIDEO_S = 120, 20  # this machine renders ~2.8 video s per second


@dataclass
class RenderResult:
    video: Path
    thumbnail: Path
    captions: Path
    duration_s: float
    silent_narration: bool
    vtt: Path
    words: Path
    manifest: Path  # render.json: voices, timing methods, captions, audio levels
    audio: dict | None = None  # the output's measured loudness (soundtrack.measure_file)
    spoken_words: list[Word] | None = None  # every word, in seconds of the video


def clip_sound(sources: list[Path], volume: float | None) -> dict[int, float]:
    """Scene index -> volume, for the clips that have a sound track, when it is to be heard."""
    if not volume:
        return {}
    return {
        k: volume
        for k, path in enumerate(sources)
        if is_clip(path) and probe(path)["audio_codec"] is not None
    }


def compose_video(
    concept: Concept,
    images: list[Path],
    aspect: str,
    work_dir: Path,
    *,
    voice: str | None = None,
    language: str = "en",
    narrations: list[Narration] | None = None,
    on_progress: Callable[[int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    clip_audio_volume: float | None = None,
    caption_style: str = "karaoke",
    speak: bool = True,
    music: Path | None = None,
    music_volume: float = 0.35,
    normalize: bool = True,
) -> RenderResult:
    """Render video.mp4, thumbnail.jpg, captions.srt, captions.vtt, words.json and render.json
    into work_dir, with the scenes' `narrations` (spoken here when not given; none when
    `speak` is false), clips' own sound at `clip_audio_volume` and `music` under them;
    on_progress gets 0..100, never decreasing.
    Raises RenderCanceled when should_cancel() turns true (no video.mp4 left), StepError
    `music_unreadable` for music ffmpeg cannot decode, RuntimeError when ffmpeg fails or hangs,
    ValueError for a bad aspect, caption style or image count."""
    if len(images) != len(concept.scenes):
        raise ValueError(f"{len(images)} images for {len(concept.scenes)} scenes")
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}")
    if caption_style not in ("karaoke", "lines", "none"):
        raise ValueError(f"unknown caption style {caption_style!r}")
    size = ASPECTS[aspect]
    cancel = should_cancel or (lambda: False)
    last = [-1]

    def report(value: int) -> None:
        if on_progress and value > last[0]:
            last[0] = value
            on_progress(value)

    report(0)
    work_dir.mkdir(parents=True, exist_ok=True)
    scenes = concept.scenes
    if not speak:
        narrations = []
    # karaoke needs words: without narration the scene lines are burned in instead
    burn_lines = caption_style == "lines" or (caption_style == "karaoke" and not speak)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = (
            []
            if narrations is not None
            else [
                pool.submit(synthesize, s.narration, work_dir / f"narration-{i + 1:02d}.wav", voice, language)
                for i, s in enumerate(scenes)
            ]
        )
        checked_music = pool.submit(soundtrack.check_music, music) if music is not None else None
        captions = []
        for i, scene in enumerate(scenes if burn_lines else []):  # Pillow work overlaps speech
            path = work_dir / f"caption-{i + 1:02d}.png"
            captions.append((path, *render_caption(scene.narration, size[0], path)))
        narrations = narrations if narrations is not None else [f.result() for f in futures]
        if checked_music is not None:
            checked_music.result()  # StepError music_unreadable
    if speak and len(narrations) != len(scenes):
        raise ValueError(f"{len(narrations)} narrations for {len(scenes)} scenes")
    if cancel():
        raise RenderCanceled()
    durations = [s.duration_s for s in scenes]
    timeline = plan_timeline(durations)
    places = placements(timeline, narrations)
    scene_words = audio_track.video_words(narrations, places)
    spoken = [w for scene in scene_words for w in scene]
    phrases = karaoke.phrases(scene_words, size, aspect, language, timeline.total)
    scene_looks = [looks.of_still(path) for path in images]
    key_words = kinetic.scene_events(
        scene_words,
        [s.narration for s in scenes],
        scene_looks,
        timeline.windows,
        size,
        aspect,
        language,
        " ".join([concept.title, *(h.lstrip("#") for h in concept.hashtags)]),
    )
    shown = phrases if caption_style == "karaoke" and speak else []
    subtitles = None
    if shown or key_words.events:  # captions and key words: one ASS script, one libass pass
        subtitles = work_dir / "captions.ass"
        script = karaoke.build_ass(shown, size, aspect, language, (kinetic.STYLE,), tuple(key_words.events))
        subtitles.write_text(script, encoding="utf-8")
    audio = audio_track.AudioPlan(
        places,
        music,
        music_volume,
        spoken,
        loudness=False,
        clips={k: (images[k], volume) for k, volume in clip_sound(images, clip_audio_volume).items()},
    )
    if normalize:
        audio.loudness = audio_track.measure_loudness(narrations, audio, timeline.total) or False
    report(5)
    video = work_dir / "video.mp4"
    partial = work_dir / "video.mp4.part"
    video.unlink(missing_ok=True)
    motions = [(chosen[0].camera, chosen[0].camera_per_s) if chosen else None for chosen in scene_looks]
    argv, timeline = build_command(
        images,
        captions,
        narrations,
        durations,
        size,
        partial,
        audio=audio,
        subtitles=subtitles,
        motions=motions,
    )
    try:
        timeout_s = TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * timeline.total
        ffmpeg.render(argv, timeline.total, lambda f: report(5 + int(94 * f)), cancel, timeout_s)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, video)
    files = write_caption_files(work_dir, scenes, timeline, phrases, scene_words, narrations, language, voice)
    levels = (
        soundtrack.on_target(video, soundtrack.measure_file(video))
        if normalize
        else soundtrack.measure_file(video)
    )
    thumbnail_frame = representative_frame(timeline, key_words.shown_at[0])
    thumbnail = write_thumbnail(video, work_dir / "thumbnail.jpg", thumbnail_frame)
    manifest = work_dir / "render.json"
    manifest.write_text(
        json.dumps(
            {
                "duration_s": timeline.total,
                "aspect": aspect,
                "caption_style": caption_style,
                "language": language,
                "narration": speak,
                "music": music is not None,
                "music_volume": music_volume if music is not None else None,
                "voices": sorted({n.voice for n in narrations}),
                "timing": [n.timing for n in narrations],
                "words": len(spoken),
                "audio": levels,
                "loudness_pass_one": audio.loudness or None,
                "ducking": "volume envelope from the word timings" if music is not None and speak else None,
                "thumbnail_frame": thumbnail_frame,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    report(100)
    return RenderResult(
        video=video,
        thumbnail=thumbnail,
        captions=files["srt"],
        duration_s=timeline.total,
        silent_narration=any(n.silent for n in narrations),
        vtt=files["vtt"],
        words=files["words"],
        manifest=manifest,
        audio=levels,
        spoken_words=spoken,
    )


def write_caption_files(
    work_dir: Path,
    scenes,
    timeline: Timeline,
    phrases: list[karaoke.Phrase],
    scene_words: list[list[Word]],
    narrations: list[Narration],
    language: str,
    voice: str | None,
) -> dict[str, Path]:
    """captions.srt, captions.vtt and words.json from the same word timings: a cue per phrase.
    Without narration there are no words: a cue per scene line, over its window."""
    if phrases:
        cues = [(p.start, p.end, p.words) for p in phrases]
    else:
        cues = [
            (start, end, [Word(scene.narration, start, end)])
            for (start, end), scene in zip(timeline.windows, scenes)
        ]
    sep = words_mod.joiner(language)
    paths = {
        "srt": work_dir / "captions.srt",
        "vtt": work_dir / "captions.vtt",
        "words": work_dir / "words.json",
    }
    paths["srt"].write_text(
        build_srt([(a, b, sep.join(w.text for w in ws)) for a, b, ws in cues]), encoding="utf-8"
    )
    paths["vtt"].write_text(words_mod.to_vtt(cues, language), encoding="utf-8")
    spoken_by = sorted({n.voice for n in narrations})
    paths["words"].write_text(
        words_mod.to_json(
            scene_words, [n.timing for n in narrations], language, ",".join(spoken_by) or voice
        ),
        encoding="utf-8",
    )
    return paths
