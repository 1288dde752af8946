"""Long videos across workers: render scene chunks separately, join them by stream copy.

    python bench/chunks.py [--duration 180] [--chunks 4] [--aspect 9:16]

Renders the same concept twice: once in one pass (today's video step), and as `--chunks` groups
of whole scenes, each through the same compose_video (what N worker tasks would each do). The
chunks' video streams are joined with the concat demuxer (`-c copy`, no re-encode) and the
one-pass render's audio track is muxed in (audio is cheap to render whole; joining AAC chunks
by copy leaves a priming gap at every seam, measured here too).

Checks at each seam: the joined file's frames against the one-pass render's (mean absolute
pixel difference, 0..255, on frames just before and after the seam and at the crossfade's
middle), and the durations. Prints JSON: per-chunk wall and CPU seconds, the join's, the seams,
and the modelled wall time of the video step for N tasks:
    wall(N) = fargate_start + max(chunk render) + S3 hand-off + join + mux
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/queue.py would shadow the stdlib `queue`

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import imageio_ffmpeg  # noqa: E402
from PIL import Image, ImageChops, ImageStat  # noqa: E402

from chalicelib.pipeline.concept.offline import write_concept  # noqa: E402
from chalicelib.pipeline.concept.storyboard import Concept  # noqa: E402
from chalicelib.pipeline.media.images import render_scene_image  # noqa: E402
from chalicelib.pipeline.media.narration import synthesize  # noqa: E402
from chalicelib.pipeline.media.probe import probe  # noqa: E402
from chalicelib.pipeline.media.video import compose_video  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PROMPT = "A paper boat sails across a night sea to the moon, past lighthouses and whales"
FARGATE_START_S = 35  # median, as in bench/burst.py (an assumption, not measured here)
S3_MB_PER_S = 80  # a Fargate task's S3 throughput for one object, conservatively


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn):
    c, t = cpu(), time.perf_counter()
    result = fn()
    return round(time.perf_counter() - t, 3), round(cpu() - c, 3), result


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args], check=True)


def frame(video: Path, t: float, out: Path) -> Image.Image:
    ffmpeg("-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1", str(out))
    return Image.open(out).convert("RGB")


def difference(a: Image.Image, b: Image.Image) -> float:
    return round(sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=180)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--aspect", default="9:16")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chunks-") as tmp:
        work = Path(tmp)
        concept = write_concept(PROMPT, args.duration)
        scenes = concept.scenes
        with ThreadPoolExecutor(max_workers=1) as pool:
            spoken = pool.submit(lambda: [synthesize(s.narration, work / f"n-{s.index}.wav") for s in scenes])
            stills = [render_scene_image(concept, s, args.aspect, work / f"s-{s.index}.png") for s in scenes]
            narrations = spoken.result()

        one_wall, one_cpu, one = timed(
            lambda: compose_video(concept, stills, args.aspect, work / "one", narrations=narrations)
        )

        # Whole scenes per chunk, as even in duration as the scene boundaries allow.
        total = sum(s.duration_s for s in scenes)
        bounds, acc, groups, current = [], 0.0, [], []
        for i, scene in enumerate(scenes):
            current.append(i)
            acc += scene.duration_s
            if acc >= total * (len(groups) + 1) / args.chunks and len(groups) < args.chunks - 1:
                groups.append(current)
                bounds.append(acc)
                current = []
        groups.append(current)
        chunk_runs, chunk_files = [], []
        for k, group in enumerate(groups):
            part = Concept(
                title=concept.title,
                hashtags=concept.hashtags,
                scenes=[scenes[i].model_copy(update={"index": j}) for j, i in enumerate(group)],
            )
            wall, used, result = timed(
                lambda part=part, group=group, k=k: compose_video(
                    part,
                    [stills[i] for i in group],
                    args.aspect,
                    work / f"chunk-{k}",
                    narrations=[narrations[i] for i in group],
                )
            )
            chunk_runs.append(
                {
                    "scenes": len(group),
                    "video_s": result.duration_s,
                    "wall_s": wall,
                    "cpu_s": used,
                    "mb": round(result.video.stat().st_size / 2**20, 2),
                }
            )
            chunk_files.append(result.video)

        listing = work / "chunks.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in chunk_files))
        joined = work / "joined.mp4"
        join_wall, join_cpu, _ = timed(
            lambda: ffmpeg(
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-i",
                str(one.video),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                str(joined),
            )
        )
        naive = work / "naive.mp4"  # chunks' own AAC joined by copy: the seam to avoid
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(naive))

        seams = []
        for k, b in enumerate(bounds):
            checks = {}
            for name, t in (("before", b - 0.6), ("crossfade_mid", b + 0.2), ("after", b + 0.6)):
                checks[name] = difference(
                    frame(one.video, t, work / f"o{k}{name}.png"), frame(joined, t, work / f"j{k}{name}.png")
                )
            seams.append({"at_s": round(b, 3), "mean_abs_diff": checks})
        info_one, info_joined, info_naive = probe(one.video), probe(joined), probe(naive)
        # Modelled on CPU seconds (a 1-vCPU task's wall time is its CPU time; this machine's
        # wall clock is shared with other work): N tasks each render 1/N of the scenes.
        chunk_cpu = sum(c["cpu_s"] for c in chunk_runs)
        handoff_s = sum(c["mb"] for c in chunk_runs) / S3_MB_PER_S * 2  # up, then down
        model = {"1": round(one_cpu, 1)} | {
            str(n): round(FARGATE_START_S + chunk_cpu / n + handoff_s + join_wall, 1) for n in (2, 4, 8)
        }
        print(
            json.dumps(
                {
                    "duration_s": args.duration,
                    "scenes": len(scenes),
                    "chunks": args.chunks,
                    "one_pass": {
                        "wall_s": one_wall,
                        "cpu_s": one_cpu,
                        "mb": round(one.video.stat().st_size / 2**20, 2),
                    },
                    "chunk_renders": chunk_runs,
                    "chunk_overhead_cpu": round(sum(c["cpu_s"] for c in chunk_runs) / one_cpu, 3),
                    "join": {"wall_s": join_wall, "cpu_s": join_cpu},
                    "durations_s": {
                        "one_pass": info_one["duration_s"],
                        "joined": info_joined["duration_s"],
                        "naive_aac_concat": info_naive["duration_s"],
                    },
                    "seams": seams,
                    "modelled_video_step_wall_s": model,
                    "model_note": f"1-vCPU tasks; wall = CPU s; fargate start {FARGATE_START_S} s (1 = no "
                    f"extra task), S3 {S3_MB_PER_S} MB/s for the hand-off",
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
