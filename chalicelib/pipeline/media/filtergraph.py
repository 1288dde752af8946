"""The video pass's ffmpeg command: the scenes, their camera motion, captions and crossfades as ONE
filtergraph (the sound's parts come from audio_track.py). Built here, run by video.py.

Per scene the still is scaled once and repeated by the `loop` filter (decoding a PNG per frame
would cost more than encoding), moved by its look's camera (looks.Camera: a zoom is a per-frame
`scale` and a centre `crop`, a drift a moving `crop` of a still scaled once a little larger, a
still camera nothing), and the scenes are concatenated. A crossfade is the previous scene's
camera continued for half a second, fading out (alpha) over the next scene's first frames:
unlike `xfade`, this keeps every frame in the encoder's yuv420p, which halves the filter cost.
Captions are Pillow PNGs overlaid in time windows that switch mid-crossfade: the same windows
the SRT file and the narration use. The video lasts exactly the concept's total duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chalicelib.pipeline.media import audio_track, ffmpeg, ffmpeg_inputs, karaoke, soundtrack
from chalicelib.pipeline.media.looks import Camera
from chalicelib.pipeline.media.narration import Narration

FPS = 30
CROSSFADE_S = 0.5  # seconds; shorter for very short scenes
ZOOM_PER_S = 0.015  # +1.5% per second: noticeable, never seasick
Motion = tuple[Camera, float]  # a scene's camera and its speed (looks.Look.camera_per_s)
DEFAULT_MOTION: Motion = (Camera.BREATHE, ZOOM_PER_S)  # a still not drawn in a look
ZOOM_SCALER = "fast_bilinear"  # upscaling by <12%: 60 dB PSNR to bilinear, and cheaper
CLIP_SCALER = "bilinear"  # clips come at any size: a downscale needs the real filter
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
    "-map_metadata",
    "-1",  # nothing of the inputs' metadata (titles, locations, devices) reaches the video
]
CLIP_SUFFIXES = (".mp4", ".mov")


@dataclass
class Timeline:
    """Where each scene sits in the output, in whole frames so concat and overlays agree.
    Scene k is on screen from starts[k] for frames[k] frames; its stream runs `crossfade` frames
    longer, and that tail is laid over the next scene while it fades out. Scene k's caption and
    narration occupy windows[k] (seconds), which switch halfway through each crossfade."""

    starts: list[int]
    frames: list[int]
    crossfade: int
    windows: list[tuple[float, float]]
    total: float


def plan_timeline(durations: list[float]) -> Timeline:
    bounds = [round(sum(durations[:k]) * FPS) for k in range(len(durations) + 1)]
    starts, frames = bounds[:-1], [b - a for a, b in zip(bounds, bounds[1:])]
    crossfade = max(1, min(round(CROSSFADE_S * FPS), min(frames) // 3))
    cue_starts = [0.0] + [(f + crossfade / 2) / FPS for f in starts[1:]]
    windows = list(zip(cue_starts, cue_starts[1:] + [bounds[-1] / FPS]))
    return Timeline(starts, frames, crossfade, windows, bounds[-1] / FPS)


def _camera(k: int, size: tuple[int, int], length: float, motion: Motion) -> str:
    """The per-frame chain that moves scene k's still (after `_still`, at its `_grown` size)
    over its stream of `length` s, back at the frame size; "" for a still camera. A zoom is a
    per-frame scale by a factor growing linearly (a push; a breathe shrinks on odd scenes) and
    a centre crop; a drift crops a moving window (left to right, or back on odd scenes): no
    per-frame scaling at all. `t` is the stream's own time."""
    camera, per_s = motion
    if camera is Camera.STILL or per_s <= 0:
        return ""
    width, height = size
    forward = f"t/{length:.4f}"
    progress = forward if k % 2 == 0 or camera is Camera.PUSH else f"(1-{forward})"
    if camera is Camera.DRIFT:
        grown_w, grown_h = _grown(size, motion, length)
        return (
            f"crop={width}:{height}:x='{grown_w - width}*{progress}':y={(grown_h - height) // 2}:"
            f"exact=1,setsar=1"
        )
    factor = f"(1+{per_s * length:.4f}*{progress})"
    return (
        f"scale=w='2*trunc({width}*{factor}/2)':h='2*trunc({height}*{factor}/2)':"
        f"eval=frame:flags={ZOOM_SCALER},crop={width}:{height},setsar=1"
    )


def _grown(size: tuple[int, int], motion: Motion, length: float) -> tuple[int, int]:
    """The size a still is scaled to once: the frame, or for a drift the frame enlarged by the
    pan's travel over `length` s (even sides, for yuv420p)."""
    camera, per_s = motion
    if camera is not Camera.DRIFT or per_s <= 0:
        return size
    grow = 1 + per_s * length
    return tuple(2 * round(side * grow / 2) for side in size)  # type: ignore[return-value]


def _still(index: int, size: tuple[int, int], copies: int) -> str:
    """Input `index` at `size` (the frame's, or larger for a drift), scaled once (not per
    frame), in yuv420p: the encoder's format, so no frame is ever converted (xfade would
    convert every frame to yuv444p and back, which cost more than the zoom itself). Split when
    the crossfade needs a copy."""
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
    k: int, n: int, size: tuple[int, int], timeline: Timeline, motion: Motion | None
) -> list[str]:
    """Scene k's frames [b{k}]: a still moved by `motion`, or a clip (None: it moves by itself).
    Scene k-1's camera continues for the crossfade as a tail that fades out over scene k's
    first frames. Only the still is shared between the branches: a zoomed frame is new and
    writable, so the overlays never copy a whole frame."""
    last = k == n - 1
    length = (timeline.frames[k] + (0 if last else timeline.crossfade)) / FPS
    if motion is None:
        parts = clip_chains(k, size, timeline.frames[k], 0 if last else timeline.crossfade)
    else:
        move = _camera(k, size, length, motion)
        move = f",{move}" if move else ""
        parts = [
            _still(k, _grown(size, motion, length), 1 if last else 2),
            f"{_repeat(f's{k}_0', timeline.frames[k], 0)}{move}[m{k}]",
        ]
        if not last:
            parts.append(
                f"{_repeat(f's{k}_1', timeline.crossfade, timeline.frames[k])}{move},"
                f"setpts=PTS-STARTPTS,format=yuva420p,"
                f"fade=t=out:st=0:d={timeline.crossfade / FPS:.4f}:alpha=1[f{k}]"
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
        f"flags={CLIP_SCALER},crop={width}:{height},setsar=1,format=yuv420p,"
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
    motions: list[Motion | None] | None = None,
) -> tuple[list[str], Timeline]:
    """The ffmpeg argv. Inputs: the scenes (stills or clips), the caption PNGs, the narration
    WAVs, the music. `clip_audio`: scene index -> volume of that clip's own sound (only clips
    that have one). `subtitles`: an ASS file burned in (karaoke captions) after the overlays.
    `motions`: per scene, how its still moves (its look's camera); None: DEFAULT_MOTION."""
    n = len(images)
    timeline = plan_timeline(durations)
    argv = ffmpeg.command("-nostats", "-progress", "pipe:1", overwrite=True, loglevel="error")
    for path in images:  # stills are PNGs we wrote, clips MP4 or QuickTime (pinned)
        argv += scene_input_args(path)
    for path, _, _ in captions:
        argv += ffmpeg_inputs.file_input(path, "png_pipe")
    audio = audio or audio_track.AudioPlan(places=placements(timeline, narrations))
    if clip_audio and not audio.clips:
        audio.clips = {k: (images[k], volume) for k, volume in clip_audio.items()}
    argv += audio_track.audio_input_args(narrations, audio)
    motions = motions or [None] * n
    graph = [
        part
        for k in range(n)
        for part in _scene_chains(
            k, n, size, timeline, None if is_clip(images[k]) else motions[k] or DEFAULT_MOTION
        )
    ]
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


def placements(timeline: Timeline, narrations: list[Narration]) -> list[soundtrack.Placement]:
    return [
        soundtrack.placement(
            timeline.starts[k] / FPS, timeline.frames[k] / FPS, timeline.windows[k][0], n.duration_s
        )
        for k, n in enumerate(narrations)
    ]
