"""Video step benchmark: compose_video against a bare ffmpeg encode of the same length.

    python bench/render.py [--durations 15,30,60] [--clip-durations 30] [--karaoke 30] [--aspect 9:16]
                           [--looks midnight,citrus,paper,neon]

Prints one JSON object; `sources` says whether a case's scenes are stills or video clips, `look`
which offline look (looks.py: its camera, its kinetic type) the stills are drawn in.
Plain and clip cases render today's `lines` captions without music or loudness normalization,
in the paper look; the karaoke case (30 s by default, once per look of `--looks`) renders
karaoke captions and the key words, looped music ducked under the words and -14 LUFS
normalization (its audio-only measuring passes inside the step time),
reports piper's real-time factor (`narration_rtf`: synthesis seconds per second of speech, the
model already loaded; `piper_load_s` apart), the output's measured loudness, and writes a frame
of a karaoke caption at a word's midpoint to out/karaoke-frame-<look>.png.
`prepare_s` = what the worker does before the video step: the concept,
then the scene images with the narration synthesized at the same time (as the image step does).
`ratio` = video step time / bare encode time (what the filtergraph and captions cost on top of
encoding), `realtime_factor` = video seconds per wall second of the video step, `total_s` =
prepare + video step.
Wall times are the best of `--repeat` runs (the machine may be shared); `*_cpu_s` are the CPU
seconds ffmpeg and espeak-ng used, which other load disturbs less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/queue.py would shadow the standard `queue` module (which thread pools import): the
# repository root replaces this script's folder on the path.
sys.path[0] = str(ROOT)

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import imageio_ffmpeg  # noqa: E402

from chalicelib.pipeline.concept.offline import write_concept  # noqa: E402
from chalicelib.pipeline.media import looks  # noqa: E402
from chalicelib.pipeline.media import narration as narration_mod  # noqa: E402
from chalicelib.pipeline.media.filtergraph import ENCODE_ARGS, FPS  # noqa: E402
from chalicelib.pipeline.media.images import ASPECTS, render_scene_image  # noqa: E402
from chalicelib.pipeline.media.narration import synthesize  # noqa: E402
from chalicelib.pipeline.media.probe import probe  # noqa: E402
from chalicelib.pipeline.media.video import compose_video  # noqa: E402

PROMPT = "A cat astronaut exploring the rings of Saturn with a tiny robot friend"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn) -> tuple[float, float, object]:
    """(wall s, child CPU s, result) of one call."""
    cpu, wall = _children_cpu(), time.perf_counter()
    result = fn()
    return time.perf_counter() - wall, _children_cpu() - cpu, result


def bare_encode(duration_s: int, size: tuple[int, int], output: Path) -> None:
    """The same codec settings on a synthetic clip: the floor any render must pay."""
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-y",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size[0]}x{size[1]}:rate={FPS}",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=44100:cl=mono",
        "-t",
        str(duration_s),
        *ENCODE_ARGS,
        str(output),
    ]
    subprocess.run(argv, check=True)


PLAIN = {"caption_style": "lines", "normalize": False}
OUT = ROOT / "out"


def music(path: Path) -> Path:
    """20 s of a soft chord with a pulse, as WAV: shorter than the video, so it loops."""
    chord = ";".join(f"sine=f={f}:d=20:sample_rate=44100[s{i}]" for i, f in enumerate((220, 277, 330)))
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-filter_complex",
            f"{chord};[s0][s1][s2]amix=inputs=3,tremolo=f=2:d=0.6,volume=0.8",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
    )
    return path


def karaoke_frame(video: Path, words: Path, output: Path) -> dict:
    """A frame at the midpoint of a word in the middle of the video, as PNG."""
    spoken = json.loads(words.read_text())["words"]
    word = spoken[len(spoken) // 2]
    at = (word["start"] + word["end"]) / 2
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            f"{at:.3f}",
            "-i",
            str(video),
            "-frames:v",
            "1",
            str(output),
        ],
        check=True,
    )
    return {
        "frame_png": str(output.relative_to(ROOT)),
        "frame_word": word["text"],
        "frame_at_s": round(at, 3),
    }


def run_case(
    duration_s: int,
    aspect: str,
    work: Path,
    repeat: int,
    clips: bool = False,
    karaoke: bool = False,
    look: str = "paper",
) -> dict:
    prepare = _prepare_clips if clips else _prepare
    style = looks.STYLE_WORDS[look][0]
    prepare_s, _, (concept, images, narrations) = timed(lambda: prepare(duration_s, aspect, work, style))
    options = {"music": music(work / "music.wav"), "music_volume": 0.35} if karaoke else PLAIN
    steps, bares = [], []
    for attempt in range(repeat):  # interleaved, so a burst of other load hits both alike
        steps.append(
            timed(
                lambda: compose_video(
                    concept,
                    images,
                    aspect,
                    work / f"render-{attempt}",  # noqa: B023 (called at once)
                    narrations=narrations,
                    **options,
                )
            )
        )
        bares.append(timed(lambda: bare_encode(duration_s, ASPECTS[aspect], work / "bare.mp4")))
    step_s, step_cpu, result = min(steps, key=lambda t: t[0])
    bare_s, bare_cpu, _ = min(bares, key=lambda t: t[0])
    info = probe(result.video)
    extra = {}
    if karaoke:
        extra = {
            "audio": result.audio,
            **_narration_rtf(narrations),
            **karaoke_frame(result.video, result.words, OUT / f"karaoke-frame-{look}.png"),
        }
    return {
        "case": "karaoke+music+loudnorm" if karaoke else "plain",
        **extra,
        "look": None if clips else look,
        "duration_s": duration_s,
        "aspect": aspect,
        "scenes": len(concept.scenes),
        "sources": "clips" if clips else "stills",
        "prepare_s": round(prepare_s, 3),
        "step_s": round(step_s, 3),
        "bare_encode_s": round(bare_s, 3),
        "ratio": round(step_s / bare_s, 3),
        "realtime_factor": round(info["duration_s"] / step_s, 3),
        "total_s": round(prepare_s + step_s, 3),
        "step_cpu_s": round(step_cpu, 3),
        "bare_encode_cpu_s": round(bare_cpu, 3),
        "cpu_ratio": round(step_cpu / bare_cpu, 3),
        "runs": repeat,
        "video_duration_s": info["duration_s"],
        "silent_narration": result.silent_narration,
        "video_bytes": result.video.stat().st_size,
    }


def _prepare_clips(duration_s: int, aspect: str, work: Path, style: str):
    """The same concept with every scene a video clip, as stock footage arrives: H.264 at the
    output size (the smallest rendition at or above the output height), 25 fps, shorter than
    its scene so it also loops."""
    concept, _, narrations = _prepare(duration_s, aspect, work, style)
    width, height = ASPECTS[aspect]
    clips = []
    for scene in concept.scenes:
        clip = work / f"clip-{scene.index + 1:02d}.mp4"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-nostdin",
                "-y",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={width}x{height}:rate=25",
                "-t",
                f"{max(1.0, scene.duration_s - 1):.2f}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-pix_fmt",
                "yuv420p",
                str(clip),
            ],
            check=True,
        )
        clips.append(clip)
    return concept, clips, narrations


def _prepare(duration_s: int, aspect: str, work: Path, style: str):
    """What the concept and image steps do before the video step: the concept, then the PNGs
    and, in a second thread, the narration WAVs (as the image step does with the offline
    providers; the worker's fallback module is not imported: it needs MySQL and Redis)."""
    concept = write_concept(PROMPT, duration_s, style=style)
    narration_mod.piper_voice()  # once per worker process; its load time is reported apart

    def speak():
        started = time.perf_counter()
        said = [synthesize(s.narration, work / f"narration-{s.index + 1:02d}.wav") for s in concept.scenes]
        _SPOKEN[id(said)] = time.perf_counter() - started
        return said

    with ThreadPoolExecutor(max_workers=1) as pool:
        spoken = pool.submit(speak)
        stills = [
            render_scene_image(concept, s, aspect, work / f"scene-{s.index + 1:02d}.png", style=style)
            for s in concept.scenes
        ]
        narrations = spoken.result()
    return concept, stills, narrations


_SPOKEN: dict[int, float] = {}  # seconds each _prepare spent speaking, by its narrations list


def _narration_rtf(narrations) -> dict:
    speak_s, speech_s = _SPOKEN[id(narrations)], sum(n.duration_s for n in narrations)
    return {
        "piper_load_s": narration_mod.LOAD_SECONDS.get(narration_mod.DEFAULT_PIPER_VOICE),
        "narration_s": round(speak_s, 3),
        "speech_s": round(speech_s, 3),
        "narration_rtf": round(speak_s / speech_s, 3),
        "voices": sorted({n.voice for n in narrations}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", default="15,30,60", help="comma-separated seconds, e.g. 15,30,60")
    parser.add_argument("--aspect", default="9:16", choices=sorted(ASPECTS))
    parser.add_argument("--repeat", type=int, default=2, help="runs per case; the fastest counts")
    parser.add_argument(
        "--clip-durations",
        default="30",
        help="comma-separated seconds of the cases whose scenes are all video clips",
    )
    parser.add_argument(
        "--karaoke", default="30", help="comma-separated seconds of the karaoke+music+loudnorm cases (stills)"
    )
    parser.add_argument(
        "--looks", default=",".join(looks.LOOKS), help="comma-separated looks of the karaoke cases"
    )
    args = parser.parse_args()
    cases = []
    karaoke_looks = [name for name in args.looks.split(",") if name.strip()]
    for clips, karaoke, durations, names in (
        (False, False, args.durations, ["paper"]),
        (True, False, args.clip_durations, ["paper"]),
        (False, True, args.karaoke, karaoke_looks),
    ):
        for duration in (int(d) for d in durations.split(",") if d.strip()):
            for name in names:
                with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
                    cases.append(
                        run_case(duration, args.aspect, Path(tmp), max(1, args.repeat), clips, karaoke, name)
                    )
    print(
        json.dumps(
            {
                "cases": cases,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "encode_args": " ".join(ENCODE_ARGS),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
