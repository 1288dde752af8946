"""The video step: narration, slow zoom, captions and crossfades in ONE ffmpeg pass.

Per scene the still is scaled once and repeated by the `loop` filter (decoding a PNG per frame
would cost more than encoding), zoomed by a per-frame `scale` and a centre `crop`, and the scenes
are concatenated. A crossfade is the previous scene's zoom continued for half a second, fading
out (alpha) over the next scene's first frames: unlike `xfade`, this keeps every frame in the
encoder's yuv420p, which halves the filter cost. Captions are Pillow PNGs overlaid in time
windows that switch mid-crossfade: the same windows the SRT file and the narration use. The
video lasts exactly the concept's total duration. Its sound (narration, music, clips, loudness): audio_track.py.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.media import audio_track, ffmpeg_inputs, karaoke, soundtrack
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.captions import build_srt, render_caption
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.narration import Narration, synthesize
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.words import Word

FPS = 30
CROSSFADE_S = 0.5  # seconds; shorter for very short scenes
ZOOM_PER_S = 0.015  # +1.5% per second: noticeable, never seasick
ZOOM_SCALER = "bilinear"  # upscaling by <10%: bicubic looks the same and costs more
ENCODE_ARGS = [
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    "23",
    "-pix_fmt",
    "yuv420p",
    "-r",
    str(FPS),
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-movflags",
    "+faststart",
    "-threads",
    "2",
]
POLL_S = 0.2  # how often should_cancel is polled while ffmpeg runs
TIMEOUT_BASE_S, TIMEOUT_PER_VIDEO_S = 120, 20  # this machine renders ~2.8 video s per second
THUMB_WIDTH = 540
CLIP_SUFFIXES = (".mp4", ".mov")


class RenderCanceled(Exception):
    """should_cancel() said stop: ffmpeg was killed and no video.mp4 was left behind."""


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


@dataclass
class _Timeline:
    """Where each scene sits in the output, in whole frames so concat and overlays agree.
    Scene k is on screen from starts[k] for frames[k] frames; its stream runs `crossfade` frames
    longer, and that tail is laid over the next scene while it fades out. Scene k's caption and
    narration occupy windows[k] (seconds), which switch halfway through each crossfade."""

    starts: list[int]
    frames: list[int]
    crossfade: int
    windows: list[tuple[float, float]]
    total: float


def plan_timeline(durations: list[float]) -> _Timeline:
    bounds = [round(sum(durations[:k]) * FPS) for k in range(len(durations) + 1)]
    starts, frames = bounds[:-1], [b - a for a, b in zip(bounds, bounds[1:])]
    crossfade = max(1, min(round(CROSSFADE_S * FPS), min(frames) // 3))
    cue_starts = [0.0] + [(f + crossfade / 2) / FPS for f in starts[1:]]
    windows = list(zip(cue_starts, cue_starts[1:] + [bounds[-1] / FPS]))
    return _Timeline(starts, frames, crossfade, windows, bounds[-1] / FPS)


def _zoom(k: int, size: tuple[int, int], length: float) -> str:
    """Per-frame scale by a factor growing (even scenes) or shrinking (odd) linearly over the
    scene's stream, then a centre crop back to the frame size. `t` is the stream's own time."""
    width, height = size
    progress = f"t/{length:.4f}" if k % 2 == 0 else f"(1-t/{length:.4f})"
    factor = f"(1+{ZOOM_PER_S * length:.4f}*{progress})"
    return (
        f"scale=w='2*trunc({width}*{factor}/2)':h='2*trunc({height}*{factor}/2)':"
        f"eval=frame:flags={ZOOM_SCALER},crop={width}:{height},setsar=1"
    )


def _still(index: int, size: tuple[int, int], copies: int) -> str:
    """Input `index` at the exact frame size, scaled once (not per frame), in yuv420p: the
    encoder's format, so no frame is ever converted (xfade would convert every frame to yuv444p
    and back, which cost more than the zoom itself). Split when the crossfade needs a copy."""
    width, height = size
    chain = (
        f"[{index}:v]scale={width}:{height}:force_original_aspect_ratio=increase,"
        f"crop={width}:{height},setsar=1,format=yuv420p"
    )
    return (
        chain
        + ("," + f"split={copies}" if copies > 1 else "")
        + "".join(f"[s{index}_{c}]" for c in range(copies))
    )


def _repeat(label: str, frames: int, first_frame: int) -> str:
    """The still repeated `frames` times (references, no copies), timestamps from first_frame."""
    return f"[{label}]loop=loop={frames - 1}:size=1:start=0,setpts=(N+{first_frame})/{FPS}/TB"


def _scene_chains(
    k: int, n: int, size: tuple[int, int], timeline: _Timeline, clip: bool = False
) -> list[str]:
    """Scene k's frames [b{k}]. Scene k-1's zoom continues for the crossfade as a tail that
    fades out over scene k's first frames. Only the still is shared between the branches:
    every zoomed frame is new and writable, so the overlays never copy a whole frame."""
    last = k == n - 1
    length = (timeline.frames[k] + (0 if last else timeline.crossfade)) / FPS
    if clip:
        parts = clip_chains(k, size, timeline.frames[k], 0 if last else timeline.crossfade)
    else:
        parts = [
            _still(k, size, 1 if last else 2),
            f"{_repeat(f's{k}_0', timeline.frames[k], 0)},{_zoom(k, size, length)}[m{k}]",
        ]
    if not last and not clip:
        fade = timeline.crossfade / FPS
        parts.append(
            f"{_repeat(f's{k}_1', timeline.crossfade, timeline.frames[k])},"
            f"{_zoom(k, size, length)},setpts=PTS-STARTPTS,format=yuva420p,"
            f"fade=t=out:st=0:d={fade:.4f}:alpha=1[f{k}]"
        )
    if k == 0:
        parts.append("[m0]null[b0]")
    else:
        parts.append(f"[m{k}][f{k - 1}]overlay=eof_action=pass:format=yuv420[b{k}]")
    return parts


def is_clip(path: Path) -> bool:
    """A scene's source is a video clip (the user's, or stock footage), not a still."""
    return path.suffix.lower() in CLIP_SUFFIXES


def scene_input_args(path: Path) -> list[str]:
    """A still is one frame at the output rate; a clip loops for as long as its scene needs."""
    if is_clip(path):  # mov: the demuxer of MP4 and QuickTime alike
        return ffmpeg_inputs.file_input(path, "mov", "-stream_loop", "-1")
    return ffmpeg_inputs.file_input(path, "png_pipe", "-framerate", str(FPS))


def clip_chains(k: int, size: tuple[int, int], frames: int, crossfade: int) -> list[str]:
    """Clip k as scene k: at the output rate, cover-scaled and centre-cropped to the frame, in
    yuv420p, cut (or looped, see scene_input_args) to its `frames` as [m{k}], and when another
    scene follows, the next `crossfade` frames of the clip as the fading tail [f{k}]. No zoom:
    the clip moves by itself."""
    width, height = size
    chain = (
        f"[{k}:v]fps={FPS},scale={width}:{height}:force_original_aspect_ratio=increase:"
        f"flags={ZOOM_SCALER},crop={width}:{height},setsar=1,format=yuv420p,"
        f"trim=end_frame={frames + crossfade},setpts=N/{FPS}/TB"
    )
    if not crossfade:
        return [f"{chain}[m{k}]"]
    fade = crossfade / FPS
    return [
        f"{chain},split=2[v{k}_0][v{k}_1]",
        f"[v{k}_0]trim=end_frame={frames}[m{k}]",
        f"[v{k}_1]trim=start_frame={frames},setpts=PTS-STARTPTS,format=yuva420p,"
        f"fade=t=out:st=0:d={fade:.4f}:alpha=1[f{k}]",
    ]


def build_command(
    images: list[Path],
    captions: list[tuple[Path, int, int]],
    narrations: list[Narration],
    durations: list[float],
    size: tuple[int, int],
    output: Path,
    clip_audio: dict[int, float] | None = None,
    audio: audio_track.AudioPlan | None = None,
    subtitles: Path | None = None,
) -> tuple[list[str], _Timeline]:
    """The ffmpeg argv. Inputs: the scenes (stills or clips), the caption PNGs, the narration
    WAVs, the music. `clip_audio`: scene index -> volume of that clip's own sound (only clips
    that have one). `subtitles`: an ASS file burned in (karaoke captions) after the overlays."""
    n = len(images)
    timeline = plan_timeline(durations)
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-y",
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
    ]
    for path in images:  # stills are PNGs we wrote, clips MP4 or QuickTime (pinned)
        argv += scene_input_args(path)
    for path, _, _ in captions:
        argv += ffmpeg_inputs.file_input(path, "png_pipe")
    audio = audio or audio_track.AudioPlan(places=placements(timeline, narrations))
    if clip_audio and not audio.clips:
        audio.clips = {k: (images[k], volume) for k, volume in clip_audio.items()}
    argv += audio_track.audio_input_args(narrations, audio)
    graph = [part for k in range(n) for part in _scene_chains(k, n, size, timeline, is_clip(images[k]))]
    graph.append("".join(f"[b{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[c]")
    last, first_caption = "c", n
    width, height = size
    for k, (_, cap_w, cap_h) in enumerate(captions):
        y = int(min(height * 0.8 - cap_h / 2, height * 0.95 - cap_h))
        start, end = timeline.windows[k]
        graph.append(
            f"[{last}][{first_caption + k}:v]overlay=x={(width - cap_w) // 2}:y={y}:"
            f"format=yuv420:enable='between(t,{start:.4f},{end - 0.001:.4f})'[c{k}]"
        )
        last = f"c{k}"
    if subtitles is not None:
        graph.append(f"[{last}]{karaoke.ass_filter(subtitles)}[subs]")
        last = "subs"
    # clips' own sound comes from their scene inputs (index k) in this pass
    parts, audio_label = audio_track.audio_graph(
        first_caption + len(captions), narrations, audio, timeline.total, {k: k for k in audio.clips}
    )
    graph += parts
    argv += [
        "-filter_complex",
        ";".join(graph),
        "-map",
        f"[{last}]",
        "-map",
        f"[{audio_label}]",
        "-t",
        f"{timeline.total:.4f}",
        *ENCODE_ARGS,
        "-f",
        "mp4",
        str(output),
    ]
    return argv, timeline


# ---- the audio side (audio_track.py) --------------------------------------------------------
def placements(timeline: _Timeline, narrations: list[Narration]) -> list[soundtrack.Placement]:
    return [
        soundtrack.placement(
            timeline.starts[k] / FPS, timeline.frames[k] / FPS, timeline.windows[k][0], n.duration_s
        )
        for k, n in enumerate(narrations)
    ]


def run_ffmpeg(
    argv: list[str], total_s: float, on_progress: Callable[[float], None], should_cancel: Callable[[], bool]
) -> None:
    """Run ffmpeg, feeding its `-progress` out_time to on_progress (fraction 0..1) and polling
    should_cancel every POLL_S. Cancel kills ffmpeg and raises RenderCanceled; failure (or a
    render far slower than any sane machine) raises RuntimeError with the tail of its stderr."""
    deadline = time.monotonic() + TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * total_s
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both PIPE
    done_s = [0.0]
    stderr_tail: collections.deque[str] = collections.deque(maxlen=20)

    def read_progress() -> None:
        for line in stdout:
            key, _, value = line.strip().partition("=")
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
                done_s[0] = max(done_s[0], int(value) / 1e6)  # both keys are microseconds

    readers = [
        threading.Thread(target=read_progress, daemon=True),
        threading.Thread(target=lambda: stderr_tail.extend(stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        while proc.poll() is None:
            if should_cancel():
                raise RenderCanceled()
            if time.monotonic() > deadline:
                raise RuntimeError(f"ffmpeg timed out: {''.join(stderr_tail).strip()[-2000:]}")
            on_progress(min(1.0, done_s[0] / total_s))
            try:
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for reader in readers:
            reader.join(timeout=5)
    if proc.returncode != 0:
        tail = "".join(stderr_tail).strip()[-2000:]
        raise RuntimeError(f"ffmpeg exited with {proc.returncode}: {tail}")


def write_thumbnail(image: Path, path: Path) -> Path:
    """The first scene's frame (the zoom starts at 1.0, so the still is that frame), 540 wide."""
    with Image.open(image) as still:
        height = round(still.height * THUMB_WIDTH / still.width)
        still.convert("RGB").resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS).save(
            path, "JPEG", quality=85
        )
    return path


def clip_sound(sources: list[Path], volume: float | None) -> dict[int, float]:
    """Scene index -> volume, for the clips that have a sound track, when it is to be heard."""
    if not volume:
        return {}
    return {
        k: volume
        for k, path in enumerate(sources)
        if is_clip(path) and probe(path)["audio_codec"] is not None
    }


def first_frame(clip: Path, path: Path, size: tuple[int, int]) -> Path:
    """The clip's first frame as the scene shows it (cover-cropped), as a PNG."""
    width, height = size
    crop = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            *ffmpeg_inputs.file_input(clip, "mov"),
            "-vf",
            crop,
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


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
    subtitles = None
    if caption_style == "karaoke" and speak:
        subtitles = work_dir / "captions.ass"
        subtitles.write_text(karaoke.build_ass(phrases, size, aspect, language), encoding="utf-8")
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
    argv, timeline = build_command(
        images, captions, narrations, durations, size, partial, audio=audio, subtitles=subtitles
    )
    try:
        run_ffmpeg(argv, timeline.total, lambda f: report(5 + int(94 * f)), cancel)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, video)
    files = write_caption_files(work_dir, scenes, timeline, phrases, scene_words, narrations, language, voice)
    levels = soundtrack.measure_file(video)
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
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    first = first_frame(images[0], work_dir / "first-frame.png", size) if is_clip(images[0]) else images[0]
    thumbnail = write_thumbnail(first, work_dir / "thumbnail.jpg")
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
    timeline: _Timeline,
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
