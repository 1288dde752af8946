"""AI motion's per-scene loop, shared by the image-to-video providers (remote/fal.py,
remote/replicate.py): each differs only in how it makes one clip (`MakeClip`: what it asks,
and the call that buys it); the rest is here, once.

Per scene: the clip is asked through the job's call cache (kept the moment it arrives, so a
resumed job buys only the clips it lacks), written beside the scene's still as its clip
(scene_media.clip_path: where the render looks) and checked with `check` (the probe of the
user's own clips: codec, duration, frame size); an unusable one is deleted and forgotten by
the cache. A scene whose clip can't be made keeps its moving still, with a note saying why; a
rejected key and a stop (RenderCanceled) end them all. `parallel` scenes at a time (the
provider's setting); scenes not started when one fails are never asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline.call_cache import NO_CACHE, Ask, Call, CallCache, Paid
from chalicelib.pipeline.concept.storyboard import Scene
from chalicelib.pipeline.errors import ProviderError

# (scene, its still) -> (what is asked, for the cache; the call that buys the clip's bytes)
MakeClip = Callable[[Scene, Path], tuple[Call, Ask]]


def clip_seconds(scene_s: float) -> int:
    """The clip length to ask an image-to-video model for: 5 s, or 10 s for a longer scene
    (what Kling and most peers offer); the render loops or cuts it to the scene."""
    return 5 if scene_s <= 5 else 10


def counting(on_progress: Callable[[int], None], total: int) -> Callable[[], None]:
    """An `on_done` for parallel scenes: reports the percentage of the `total` finished."""
    done, lock = [0], threading.Lock()

    def one_more() -> None:
        with lock:
            done[0] += 1
            on_progress(100 * done[0] // max(1, total))

    return one_more


def render_clips(
    name: str,
    usage: StepUsage,
    scenes: list[Scene],
    stills: list[Path],
    make: MakeClip,
    check: Callable[[Path], str | None],
    notes: list[str],
    parallel: int,
    cache: CallCache = NO_CACHE,
    on_done: Callable[[], None] = lambda: None,
) -> StepUsage:
    """Each still's clip made by `make` (`name`: the provider as a note names it), written
    beside it once `check` passes; -> `usage` with what the clips made cost."""
    started = time.monotonic()

    def one(scene: Scene, still: Path) -> Paid | None:
        clip = still.with_suffix(".mp4")  # scene_media.clip_path
        try:
            call, ask = make(scene, still)
            paid = cache.remember(call, ask)
            clip.write_bytes(paid.content)
            problem = check(clip)
            if problem:
                clip.unlink(missing_ok=True)
                cache.forget(call)  # unusable: a retried job asks again
                raise ProviderError(
                    "provider_bad_output", f"{name}'s clip is unusable: {problem}", transient=True
                )
        except ProviderError as exc:
            if exc.code == "provider_key_rejected":
                raise
            notes.append(
                f"video: scene {scene.index + 1} has no AI clip ({exc.code}: {exc.message[:120]}); "
                "the moving still instead"
            )
            return None
        finally:
            on_done()
        return paid

    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(one, scene, still) for scene, still in zip(scenes, stills)]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            for future in futures:
                future.cancel()  # not started yet: never asked
            raise
    for paid in results:
        if paid is not None:
            paid.add_to(usage)
            usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    return usage
