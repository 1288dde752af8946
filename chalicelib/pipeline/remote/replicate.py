"""The "replicate" image provider: Replicate's predictions API (`Authorization: Bearer ...`), a
FLUX model by default (REPLICATE_IMAGE_MODEL), on the user's own token or the platform's.

Per scene one prediction: created on the model (`POST /v1/models/{owner}/{name}/predictions`),
followed (`GET /v1/predictions/{id}`, starting, processing, then succeeded, failed or canceled)
with a growing pause and within REPLICATE_DEADLINE_S, canceled (`POST .../cancel`) the moment the
job stops or the deadline passes. Predictions are followed at our base URL by their id, never at
a URL the answer names; the output (a file URL) is downloaded through the outbound layer (the
deadline, REPLICATE_MAX_OUTPUT_BYTES, the pinned checked address) and checked like an upload
(image_limits.open_checked, before any pixel is decoded). Scenes run several at a time
(REPLICATE_PARALLEL_CALLS); Replicate's 429 is waited out (its Retry-After, up to
REPLICATE_RATE_LIMIT_WAIT_S per call) without counting as a failure; each scene's image is kept
by the job's call cache as it arrives, so a resumed job asks only for the scenes it lacks, and
each prediction's id is kept the moment it is created, so a killed worker's replacement follows
the predictions still running instead of buying them again.
Priced per image (prices.py); the predictions' GPU seconds (`metrics.predict_time`) are logged.

The "replicate" video provider (AI motion, `motion: ai`) is the same prediction per scene on an
image-to-video model (REPLICATE_VIDEO_MODEL, Kling v2.1 by default): the scene's still as the
first frame (a JPEG data URI, under the 1 MB Replicate advises for one), its visual as the
prompt, a 5 or 10 s clip, run through AI motion's shared per-scene loop (remote/clips.py: the
call cache, the probe, the moving still with a note where a clip can't be made). Priced per
second of video, as Replicate bills Kling.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import outbound, storage
from chalicelib.pipeline.call_cache import FOLDER, NO_CACHE, Ask, Call, CallCache, Paid, digest_file
from chalicelib.pipeline.concept.storyboard import Concept, Scene
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import scene_media
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.remote import clips as clips_mod
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.uploads import image_limits

if TYPE_CHECKING:
    from chalicelib.pipeline.provider_chain import Task

log = logging.getLogger(__name__)

PROVIDER = "replicate"
ENDPOINT = "predictions"
SUCCEEDED = "succeeded"  # Replicate's statuses (not our jobs'): starting, processing, then one of
FINISHED = frozenset({SUCCEEDED, "failed", "canceled"})
POLL_S = (0.25, 0.5, 1.0, 1.0, 2.0)  # between two looks at a prediction: then every 2 s
STOP_CHECK_S = 0.25  # how often a wait looks at the job's stop signal
PREDICTION_ID = re.compile(r"^[a-z0-9]{10,64}$")
DATA_URI_MAX_BYTES = 1024 * 1024  # Replicate: a data URI input only for a file under 1 MB
NEGATIVE_PROMPT = "blur, distortion, text, letters"


@dataclass
class ReplicateClient(OpenAIClient):
    """Replicate's JSON API: the OpenAI client's deadline, size cap, pinned address, retries and
    key redaction (the token is a bearer token), with patience for its throttling 429s."""

    rate_limit_patience_s: float = field(default_factory=lambda: get_settings().replicate_rate_limit_wait_s)

    def _text(self, response: outbound.Reply) -> str:
        """Replicate's errors are problem documents: {title, detail, status}."""
        try:
            data = response.json()
            if isinstance(data, dict) and "title" in data:
                return f"{data.get('title')}: {data.get('detail')}".replace(self.api_key, "[redacted]")[:300]
        except ValueError:
            pass
        return super()._text(response)

    def create(self, model: str, given: dict) -> dict:
        return _prediction(self.post(f"v1/models/{model}/predictions", {"input": given}))

    def look(self, ident: str) -> dict:
        return _prediction(self.get(f"v1/predictions/{ident}"))

    def cancel(self, ident: str) -> None:
        """Best effort, once: a prediction left running is Replicate's to time out."""
        try:
            outbound.request(
                "POST",
                f"{self.base_url}/v1/predictions/{ident}/cancel",
                headers=self.auth_headers(),
                deadline_s=min(self.timeout_s, 10.0),
                max_bytes=self.max_bytes,
            )
        except outbound.OutboundError as exc:
            log.warning("could not cancel a Replicate prediction: %s", exc.message)

    def download(self, url: str) -> bytes:
        """An output file, bounded like every outbound call (a redirect is not followed)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise _bad("its output is not a URL")
        try:
            reply = outbound.request(
                "GET",
                url,
                deadline_s=self.timeout_s,
                max_bytes=get_settings().replicate_max_output_bytes,
            )
        except outbound.OutboundError as exc:
            if exc.kind == "blocked":
                raise ProviderError("provider_url_blocked", exc.message, transient=False) from None
            raise _bad(f"its output could not be fetched ({exc.message})") from None
        if not reply.is_success:
            raise _bad(f"its output could not be fetched (answered {reply.status})")
        return reply.content


def _bad(why: str) -> ProviderError:
    return ProviderError(
        "provider_bad_output", f"the Replicate prediction is unusable: {why}", transient=True
    )


def _prediction(reply: outbound.Reply) -> dict:
    """The answer as a prediction: an object with a well-formed id and a status."""
    try:
        found = reply.json()
    except ValueError:
        found = None
    if (
        not isinstance(found, dict)
        or not isinstance(found.get("id"), str)
        or not PREDICTION_ID.match(found["id"])
        or not isinstance(found.get("status"), str)
    ):
        raise _bad("the answer is not a prediction")
    return found


def _wait(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep up to `seconds`, looking at the stop signal; True when it said stop."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if should_stop():
            return True
        time.sleep(min(STOP_CHECK_S, left))
    return should_stop()


def _resumed(client: ReplicateClient, marker: str) -> dict | None:
    """The prediction an earlier attempt of the job created for this call and that may still
    succeed (a killed worker's): followed instead of paying for another. None otherwise."""
    found = storage.get_if_exists(marker)
    ident = found[0].decode("ascii", "replace") if found else ""
    if not PREDICTION_ID.match(ident):
        return None
    try:
        prediction = client.look(ident)
    except ProviderError:  # gone (404) or unreadable: ask anew
        return None
    return None if prediction["status"] in FINISHED - {SUCCEEDED} else prediction


def predict(
    client: ReplicateClient,
    model: str,
    given: dict,
    should_stop: Callable[[], bool],
    marker: str | None = None,
) -> tuple[dict, float]:
    """A finished, succeeded prediction and its GPU seconds. A stop cancels it (RenderCanceled);
    a failed, canceled or overdue one is a ProviderError (an overdue one is canceled too).
    With `marker` (an S3 key of the job's call cache), the prediction's id is kept there as soon
    as it is created, and a prediction kept by an earlier attempt is followed, not bought again."""
    if should_stop():
        raise RenderCanceled()
    prediction = _resumed(client, marker) if marker else None
    if prediction is None:
        prediction = client.create(model, given)
        if marker:
            storage.put_bytes(prediction["id"].encode(), marker, "text/plain")
    ident, deadline, looks = prediction["id"], time.monotonic() + get_settings().replicate_deadline_s, 0
    try:
        while prediction["status"] not in FINISHED:
            if time.monotonic() > deadline:
                client.cancel(ident)
                raise ProviderError(
                    "provider_unavailable", "the Replicate prediction did not finish in time", transient=True
                )
            if _wait(POLL_S[min(looks, len(POLL_S) - 1)], should_stop):
                raise RenderCanceled()
            looks += 1
            prediction = client.look(ident)
    except RenderCanceled:
        client.cancel(ident)
        raise
    except ProviderError:
        if prediction["status"] not in FINISHED:  # lost track of it: do not leave it running
            client.cancel(ident)
        raise
    metrics = prediction.get("metrics")
    gpu_s = metrics.get("predict_time") if isinstance(metrics, dict) else None
    gpu_s = float(gpu_s) if isinstance(gpu_s, (int, float)) and 0 <= gpu_s < 86_400 else 0.0
    if prediction["status"] != SUCCEEDED:
        raise ProviderError(
            "provider_unavailable",
            f"the Replicate prediction {prediction['status']}",
            transient=True,
            detail=str(prediction.get("error"))[:300].replace(client.api_key, "[redacted]"),
        )
    return prediction, gpu_s


def _first_url(output: Any) -> str:
    """The first file URL of an output: a URL, or a list whose first item is one."""
    if isinstance(output, list) and output:
        output = output[0]
    if not isinstance(output, str) or len(output) > 4096:
        raise _bad("it has no output file")
    return output


def _image(
    client: ReplicateClient, model: str, given: dict, should_stop, marker: str | None, _key: str | None
) -> tuple[bytes, dict]:
    prediction, gpu_s = predict(client, model, given, should_stop, marker)
    content = client.download(_first_url(prediction.get("output")))
    log.info("replicate prediction %s took %.3f GPU s", prediction["id"], gpu_s)
    return content, {"images": 1}


def aspect_ratio(aspect: str) -> str:
    """FLUX's `aspect_ratio` input: ours are among its choices."""
    return aspect if aspect in ASPECTS else "1:1"


def render_images(
    client: ReplicateClient,
    concept: Concept,
    aspect: str,
    style: str | None,
    paths: list[Path],
    model: str | None = None,
    cache: CallCache = NO_CACHE,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[int], None] = lambda percent: None,
) -> StepUsage:
    """One generated still per scene, scaled and centre-cropped to the aspect's exact size."""
    settings, started = get_settings(), time.monotonic()
    model = model or settings.replicate_image_model
    done, lock = [0], threading.Lock()

    def one(scene: Scene, path: Path) -> Paid:
        prompt = f"{scene.visual}." + (f" Style: {style}." if style else "") + " No text or letters."
        given = {
            "prompt": prompt,
            "aspect_ratio": aspect_ratio(aspect),
            "output_format": "png",
            "num_outputs": 1,
        }
        call = Call(PROVIDER, model, ENDPOINT, given)
        paid = cache.remember(call, partial(_image, client, model, given, should_stop, _marker(cache, call)))
        try:
            with image_limits.open_checked(paid.content) as image:  # bounded before it decodes
                fitted = ImageOps.fit(image.convert("RGB"), ASPECTS[aspect], Image.Resampling.LANCZOS)
        except (ValueError, UnidentifiedImageError, OSError) as exc:
            cache.forget(call)  # unusable: a retried job asks again
            why = exc.message if isinstance(exc, image_limits.ImageRejected) else "not an image"
            raise _bad(why) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fitted.save(path, format="PNG", compress_level=1)
        with lock:
            done[0] += 1
            on_progress(100 * done[0] // len(paths))
        return paid

    with ThreadPoolExecutor(settings.replicate_parallel_calls) as pool:
        results = list(pool.map(one, concept.scenes, paths))
    usage = StepUsage(purpose="image", provider=PROVIDER, model=model)
    for paid in results:
        paid.add_to(usage)
        usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    return usage


def _marker(cache: CallCache, call: Call) -> str | None:
    """Where the call's prediction id is kept (a replacement worker follows it); None outside a job."""
    return storage.artifact_key(cache.job_id, FOLDER, f"{call.key()}.prediction") if cache.job_id else None


def still_uri(still: Path) -> str:
    """The scene's still as a JPEG data URI, within DATA_URI_MAX_BYTES (a PNG of a full frame
    is several MB; the model re-encodes the first frame anyway)."""
    with Image.open(still) as image:  # our own still, made by the image step at the frame's size
        frame = image.convert("RGB")
    for quality in (90, 75, 60):
        out = io.BytesIO()
        frame.save(out, format="JPEG", quality=quality)
        if out.tell() <= DATA_URI_MAX_BYTES * 3 // 4:  # base64 grows it by a third
            break
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def clip_input(model: str, scene: Scene, seconds: int, aspect: str) -> tuple[str, dict]:
    """(the input naming the first frame, the rest of the model's input): Kling's schema on
    Replicate (`start_image`, `duration` 5 or 10, `mode`; the aspect is the image's), else the
    common one of its image-to-video models (`image`, `duration`, `aspect_ratio`)."""
    given: dict = {"prompt": scene.visual, "duration": seconds, "negative_prompt": NEGATIVE_PROMPT}
    if model.startswith("kwaivgi/kling"):
        return "start_image", {**given, "mode": "standard"}
    return "image", {**given, "aspect_ratio": aspect_ratio(aspect)}


def _clip(
    client: ReplicateClient,
    model: str,
    given: dict,
    seconds: int,
    should_stop: Callable[[], bool],
    marker: str | None,
    _key: str | None,
) -> tuple[bytes, dict]:
    prediction, gpu_s = predict(client, model, given, should_stop, marker)
    content = client.download(_first_url(prediction.get("output")))
    log.info("replicate clip prediction %s took %.3f GPU s", prediction["id"], gpu_s)
    return content, {"video_s": float(seconds)}


def render_clips(
    client: ReplicateClient,
    scenes: list[Scene],
    aspect: str,
    stills: list[Path],
    model: str,
    check: Callable[[Path], str | None],
    notes: list[str],
    cache: CallCache = NO_CACHE,
    should_stop: Callable[[], bool] = lambda: False,
    on_done: Callable[[], None] = lambda: None,
) -> StepUsage:
    """Per scene its still animated by an image-to-video prediction, REPLICATE_PARALLEL_CALLS at
    a time, through AI motion's shared loop (remote/clips.py); each prediction's id kept as it
    is created, so a replacement worker follows it instead of buying it again."""

    def make(scene: Scene, still: Path) -> tuple[Call, Ask]:
        seconds = clips_mod.clip_seconds(scene.duration_s)
        image_field, given = clip_input(model, scene, seconds, aspect)
        call = Call(PROVIDER, model, ENDPOINT, {**given, image_field: digest_file(still)})

        def ask(key: str | None) -> tuple[bytes, dict]:
            sent = {**given, image_field: still_uri(still)}
            return _clip(client, model, sent, seconds, should_stop, _marker(cache, call), key)

        return call, ask

    return clips_mod.render_clips(
        "Replicate",
        StepUsage(purpose="video", provider=PROVIDER, model=model, variant=aspect),
        scenes,
        stills,
        make,
        check,
        notes,
        get_settings().replicate_parallel_calls,
        cache,
        on_done,
    )


def clips(task: Task, client: ReplicateClient) -> tuple[None, StepUsage]:
    """The registered video provider (AI motion): each scene's still (task.paths) becomes its
    clip beside it (scene_media.clip_path), probed like the user's own clips."""
    todo = task.todo()
    usage = render_clips(
        client,
        [scene for scene, _ in todo],
        task.request["aspect"],
        [path for _, path in todo],
        model=task.model(get_settings().replicate_video_model),
        check=lambda clip: scene_media.clip_problem(clip, task.user_id),
        notes=task.notes,
        cache=CallCache(task.job_id),
        should_stop=task.should_stop,
        on_done=clips_mod.counting(task.on_progress, len(todo)),
    )
    if client.waited_s:
        task.notes.append(f"video: waited {client.waited_s:.0f} s for Replicate's rate limit")
    return None, usage


def images(task: Task, client: ReplicateClient) -> tuple[None, StepUsage]:
    """The registered image provider (registry.BUILTIN)."""
    todo = task.todo()
    scenes = task.written_concept().model_copy(update={"scenes": [scene for scene, _ in todo]})
    usage = render_images(
        client,
        scenes,
        task.request["aspect"],
        task.request.get("style"),
        [path for _, path in todo],
        model=task.model(get_settings().replicate_image_model),
        cache=CallCache(task.job_id),
        should_stop=task.should_stop,
        on_progress=task.on_progress,
    )
    if client.waited_s:
        task.notes.append(f"image: waited {client.waited_s:.0f} s for Replicate's rate limit")
    return None, usage
