"""Time left of a job: `eta_s` / `eta_at` on every progress event and on the job's state.

The estimate starts from the job's plan (its steps, scene count, length and providers) priced by
what recent steps of the same shape took, and is refined as the job runs: inside a step by its
progress fraction, across steps by how much faster or slower this job ran than planned.

The measured durations live in Redis (a short list per step and provider): they are derived,
read on every job's start by any worker, written once per finished step, and worth nothing old;
losing them costs only accuracy (the estimate falls back to built-in rates until new samples
come), so they need neither MySQL's durability nor a migration. Each job's own running state
(its plan, where it is) is a small Redis value beside its event stream, with the same TTL.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.core.ids import iso
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs.states import STEP_NAMES, EventType

log = logging.getLogger(__name__)

SAMPLES_KEPT = 40  # per step and provider: recent enough to follow a slower machine
STATE_TTL_S = 7 * 24 * 3600  # as the event stream's
QUEUE = "queue"  # the pseudo-step from submission to a worker taking the job
# Built-in rates (fixed seconds, seconds per unit) until a shape has samples; units: scenes for
# the image step, seconds of video for video and upload, one for the rest.
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    QUEUE: (1.0, 0.0),
    "concept": (0.2, 0.0),
    "image": (1.0, 1.5),
    "video": (2.0, 2.0),
    "upload": (0.3, 0.01),
}
SAME_SHAPE = 0.05  # units within 5% of each other are the same shape
PRIOR_SHARE = 0.5  # the pace factor trusts a job's own pace once this share of its plan ran
PACE_LIMITS = (0.33, 3.0)


@dataclass
class Part:
    """One piece of a job's plan: a step priced by its shape."""

    name: str  # a step (or QUEUE)
    shape: str  # what its samples are keyed by: step and provider(s)
    units: float
    planned_s: float = 0.0
    measured: bool = False  # priced by runs of the same size (else fitted or built in)


@dataclass
class State:
    """A job's estimate as it runs (JSON in Redis)."""

    parts: list[Part]
    step: str | None = None  # the running part
    step_at: float = 0.0  # when it began (epoch s)
    fraction: float = 0.0  # its own progress 0..1
    done_planned: float = 0.0  # planned seconds of the parts finished in this attempt
    done_actual: float = 0.0  # ...and what they took
    eta_at: float | None = None
    finished: list[str] = field(default_factory=list)

    def dump(self) -> str:
        return json.dumps(
            {
                "parts": [p.__dict__ for p in self.parts],
                **{k: v for k, v in self.__dict__.items() if k != "parts"},
            }
        )

    @classmethod
    def load(cls, raw: str) -> State:
        data = json.loads(raw)
        return cls(parts=[Part(**p) for p in data.pop("parts")], **data)


# ---- the plan -----------------------------------------------------------------------------
def scene_count(request: dict) -> int:
    """Scenes the job will have: the script's or the scenes given, else as the concept splits."""
    from chalicelib.pipeline.concept import script, storyboard

    if script.is_script(request):
        return max(1, len(script.script_scenes(request)))
    return len(storyboard.scene_durations(int(request.get("duration_s", 15))))


def video_seconds(request: dict) -> float:
    from chalicelib.pipeline.concept import script

    if script.is_script(request):
        return float(script.estimated_total(request))
    return float(request.get("duration_s", 15))


def plan(request: dict, skip: frozenset[str] | set[str] = frozenset(), queued: bool = False) -> list[Part]:
    """The parts still ahead of a job (`skip`: steps already succeeded or skipped)."""
    from chalicelib.pipeline import providers
    from chalicelib.pipeline.concept import script

    def first(purpose: str) -> str:
        return providers.choose(purpose, request)[0].provider

    pipeline = get_settings().pipeline
    seconds = video_seconds(request)
    parts = [Part(QUEUE, QUEUE, 1)] if queued else []
    if pipeline == "steps":
        concept = "script" if script.is_script(request) else first("concept")
        image = first("image") + ("+" + first("narration") if request.get("narration", True) else "")
        parts += [
            Part("concept", f"concept:{concept}", 1),
            Part("image", f"image:{image}", scene_count(request)),
            Part("video", "video:ffmpeg", seconds),
        ]
    else:  # a customer's orchestrator makes the video; concept and image are skipped
        parts.append(Part("video", f"video:{pipeline}", seconds))
    parts.append(Part("upload", "upload", seconds))
    parts = [p for p in parts if p.name not in skip]
    _price(parts)
    return parts


def _price(parts: list[Part]) -> None:
    redis = redis_client.client()
    with redis.pipeline(transaction=False) as pipe:
        for part in parts:
            pipe.lrange(redis_keys.eta_samples(part.shape), 0, SAMPLES_KEPT - 1)
        found = pipe.execute()
    for part, raw in zip(parts, found):
        samples = [json.loads(s) for s in raw]
        part.planned_s = round(estimate(part.name, part.units, samples), 3)
        part.measured = any(_same(u, part.units) for u, _ in samples)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_SHAPE * max(a, b, 1e-9)


def estimate(name: str, units: float, samples: list[list[float]]) -> float:
    """Seconds a part of `units` takes: the median of recent runs of the same size; else a line
    fitted through runs of other sizes; else the built-in rate."""
    same = [s for u, s in samples if _same(u, units)]
    if same:
        return statistics.median(same)
    if len({u for u, _ in samples}) >= 2:
        mean_u = statistics.fmean(u for u, _ in samples)
        mean_s = statistics.fmean(s for _, s in samples)
        spread = sum((u - mean_u) ** 2 for u, _ in samples)
        slope = max(0.0, sum((u - mean_u) * (s - mean_s) for u, s in samples) / spread)
        return max(0.0, mean_s + slope * (units - mean_u))
    if samples:  # one size seen: scale half of it (a part is partly fixed cost)
        u0, s0 = samples[0]
        return s0 * (0.5 + 0.5 * units / u0) if u0 else s0
    fixed, rate = DEFAULT_RATES.get(name, (1.0, 0.0))
    return fixed + rate * units


def record(shape: str, units: float, took_s: float) -> None:
    """A finished part's real duration, for the next jobs' plans."""
    key = redis_keys.eta_samples(shape)
    with redis_client.client().pipeline(transaction=False) as pipe:
        pipe.lpush(key, json.dumps([units, round(took_s, 3)]))
        pipe.ltrim(key, 0, SAMPLES_KEPT - 1)
        pipe.expire(key, 30 * 24 * 3600)
        pipe.execute()


# ---- following a job ----------------------------------------------------------------------
def _pace(state: State) -> float:
    """This job's actual over planned time so far, shrunk toward 1 while little has run (a
    tenth of a second saved on a short step says nothing about the long one after it)."""
    prior = PRIOR_SHARE * sum(p.planned_s for p in state.parts) + 1e-3
    pace = (state.done_actual + prior) / (state.done_planned + prior)
    return min(PACE_LIMITS[1], max(PACE_LIMITS[0], pace))


def seconds_left(state: State, now: float) -> float:
    pace = _pace(state)
    left = 0.0
    for part in state.parts:
        if part.name in state.finished:
            continue
        planned = pace * part.planned_s
        if part.name == state.step:
            elapsed = max(0.0, now - state.step_at)
            by_plan = max(0.0, planned - elapsed)
            f = state.fraction
            by_pace = elapsed * (1 - f) / f if f > 0 else by_plan
            # A step's percentage is not linear in time (a render's last percent holds a
            # loudness pass): a measured plan is trusted, the percentage mostly when the plan
            # is a guess, and whenever the step has run past its plan.
            trust = f if not part.measured or elapsed > planned else 0.2 * f
            left += trust * by_pace + (1 - trust) * by_plan
        else:
            left += planned
    return left


def _request_and_done(job_id: str) -> tuple[dict, set[str]] | None:
    from chalicelib.jobs import repository as jobs_db
    from chalicelib.jobs.states import StepStatus

    row = jobs_db.get(job_id, None)
    if row is None:
        return None
    steps = jobs_db.steps_of([job_id]).get(job_id, [])
    return row.request, {s.name for s in steps if s.status in (StepStatus.succeeded, StepStatus.skipped)}


def on_event(
    job_id: str, type_: EventType, step: str | None, step_progress: int | None, now: float | None = None
) -> float | None:
    """Advance the job's estimate by one event; -> seconds left (None: no estimate, the job has
    stopped without finishing, or something in the way failed: an estimate is never worth an
    event)."""
    try:
        return _on_event(job_id, type_, step, step_progress, time.time() if now is None else now)
    except Exception:
        log.warning("no time-left estimate for this event", extra={"job_id": job_id}, exc_info=True)
        return None


def _on_event(job_id: str, type_: EventType, step: str | None, step_progress: int | None, now: float):
    redis = redis_client.client()
    key = redis_keys.job_eta(job_id)
    if type_ in (EventType.job_failed, EventType.job_canceled):
        redis.delete(key)
        return None
    if type_ is EventType.job_succeeded:
        redis.set(key, json.dumps({"eta_at": now, "parts": [], "finished": list(STEP_NAMES)}), ex=STATE_TTL_S)
        return 0.0
    raw = redis.get(key)
    state = State.load(str(raw)) if raw else None
    if type_ in (EventType.job_queued, EventType.job_retrying) or state is None:
        found = _request_and_done(job_id)
        if found is None:
            return None
        request, done = found
        waiting = type_ in (EventType.job_queued, EventType.job_retrying)
        state = State(parts=plan(request, done, queued=waiting))
        if waiting:
            state.step, state.step_at = QUEUE, now
        elif step and type_ is EventType.step_progress:  # its state was lost mid-step
            state.step, state.step_at = step, now
    if type_ is EventType.job_started:
        _finish(state, QUEUE, now)
    elif type_ is EventType.step_started and step:
        state.step, state.step_at, state.fraction = step, now, 0.0
    elif type_ is EventType.step_progress and step == state.step and step_progress is not None:
        state.fraction = max(state.fraction, min(1.0, step_progress / 100))
    elif type_ is EventType.step_succeeded and step:
        _finish(state, step, now)
    left = seconds_left(state, now)
    state.eta_at = now + left
    redis.set(key, state.dump(), ex=STATE_TTL_S)
    return left


def _finish(state: State, name: str, now: float) -> None:
    part = next((p for p in state.parts if p.name == name), None)
    if part is None or name in state.finished:
        return
    if state.step == name:
        took = max(0.0, now - state.step_at)
        if name != QUEUE:  # the wait in line says nothing of how fast this job runs
            state.done_planned += part.planned_s
            state.done_actual += took
        if name != QUEUE or took < 60:  # ...and a long one little of the next job's
            record(part.shape, part.units, took)
    state.finished.append(name)
    state.step, state.fraction = None, 0.0


def current(job_id: str, now: float | None = None) -> tuple[float, str] | None:
    """(seconds left, when) of a job as of its last event; None when there is no estimate."""
    try:
        raw = redis_client.client().get(redis_keys.job_eta(job_id))
    except redis_client.error():
        return None  # Redis is away: the job's state is still served, without a time left
    if not raw:
        return None
    eta_at = json.loads(raw).get("eta_at")
    if eta_at is None:
        return None
    now = time.time() if now is None else now
    return round(max(0.0, eta_at - now), 1), iso_at(eta_at)


def iso_at(epoch: float) -> str:
    return iso(datetime.fromtimestamp(epoch, UTC)) or ""
