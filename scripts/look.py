"""The offline look, rendered: a question prompt, a script job and a non-English job, each a
video, its thumbnail and a contact sheet under out/ (no services, no keys: the offline providers only).

    python scripts/look.py [--duration 30] [--aspect 9:16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.pipeline.concept import script  # noqa: E402
from chalicelib.pipeline.concept.offline import write_concept  # noqa: E402
from chalicelib.pipeline.media.contact_sheet import sheet_times, write_contact_sheet  # noqa: E402
from chalicelib.pipeline.media.images import render_scene_image  # noqa: E402
from chalicelib.pipeline.media.narration import synthesize  # noqa: E402
from chalicelib.pipeline.media.video import compose_video  # noqa: E402

OUT = ROOT / "out"
SCRIPT = (
    "Every winter the lighthouse keeper collects lost letters from the sea. "
    "Some are a hundred years old. He answers each one, and sends it back with the tide."
)
JOBS = [
    ("question", {"prompt": "Why octopuses are the smartest animals in the ocean", "style": "cinematic"}),
    ("script", {"script": SCRIPT, "style": "watercolor"}),
    ("french", {"prompt": "Pourquoi les chats dorment autant", "language": "fr", "style": "comic"}),
]


def render(name: str, job: dict, duration: int, aspect: str, work: Path) -> dict:
    language = job.get("language", "en")
    if script.is_script(job):
        concept = script.to_concept(job)
    else:
        concept = write_concept(job["prompt"], duration, job.get("style"), language)
    stills = [
        render_scene_image(concept, s, aspect, work / f"scene-{s.index + 1:02d}.png", style=job.get("style"))
        for s in concept.scenes
    ]
    narrations = [
        synthesize(s.narration, work / f"narration-{s.index + 1:02d}.wav", None, language)
        for s in concept.scenes
    ]
    concept = script.timed(concept, job, [n.duration_s for n in narrations])
    result = compose_video(concept, stills, aspect, work / "render", language=language, narrations=narrations)
    video = OUT / f"look-{name}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(result.video.read_bytes())
    sheet = write_contact_sheet(video, OUT / f"look-{name}-sheet.png", sheet_times(result.duration_s))
    thumbnail = OUT / f"look-{name}-thumbnail.jpg"
    thumbnail.write_bytes(result.thumbnail.read_bytes())
    return {
        "job": name,
        "title": concept.title,
        "lines": [s.narration for s in concept.scenes],
        "video": str(video.relative_to(ROOT)),
        "contact_sheet": str(sheet.relative_to(ROOT)),
        "thumbnail": str(thumbnail.relative_to(ROOT)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--aspect", default="9:16")
    parser.add_argument("--only", default="", help="comma-separated job names")
    args = parser.parse_args()
    wanted = [j for j in JOBS if not args.only or j[0] in args.only.split(",")]
    done = []
    for name, job in wanted:
        with tempfile.TemporaryDirectory(prefix="look-") as tmp:
            done.append(render(name, job, args.duration, args.aspect, Path(tmp)))
    print(json.dumps(done, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
