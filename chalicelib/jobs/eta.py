"""Time left of a job: `eta_s` / `eta_at` on every progress event and on the job's state.

The estimate starts from the job's plan (its steps, scene count, length and providers), each
step priced by what recent runs of the same shape took (jobs/step_times.py), and is refined as
the job runs: with the real scene count and length once a step knows them (`replan`: the
concept, a script's narration), inside a step by blending its plan with its own progress over
the time it has run, and across steps by how much faster or slower this job runs than planned.

Each job's running state (its plan, where it is) is a small Redis value beside its event
stream, with the same TTL. Step events are emitted by the worker that runs the step, so this
process's memory tells whether it runs a shape for the first time (cold: a voice to load).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.core.ids import iso
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs import step_times
from chalicelib.jobs.states import STEP_NAMES, EventType

log = logging.getLogger(__name__)

STATE_TTL_S = 7 * 24 * 3600  # as the event stream's
QUEUE = "queue"  # the pseudo-step from submission to a worker taking the job
PRIOR_SHARE = 0.5  # the pace factor trusts a job's own pace once this share of its plan ran
PACE_LIMITS = (0.33, 3.0)
# A step's progress is close to linear in time (a render's frames, a provider's scenes): its
# own pace is trusted more as it runs, wholly from half-way on; until then the plan weighs in.
FULL_TRUST_AT = 0.5
OVERRUN_TAIL = 0.1  # a step past its plan, with no progress to go by: another tenth of its time
_RAN_HERE: set[str] = set()  # shapes this process has run (later runs are warm)


@dataclass
class Part:
    """One piece of a job's plan: a step priced by its shape."""

    name: str  # a step (or QUEUE)
    shape: str  # what its samples are keyed by: step and provider(s)
    units: float
    planned_s: float = 0.0  # a warm run's
    measured: bool = False  # priced by real runs (else by the built-in line)
    cold_s: float = 0.0  # what a cold worker adds
    cold: bool = False  # it runs (ran) on a worker that had not run this shape before

    @property
    def expected_s(self) -> float:
        return self.planned_s + (self.cold_s if self.cold else 0.0)


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


def plan(
    request: dict,
    skip: frozenset[str] | set[str] = frozenset(),
    queued: bool = False,
    user_id: str | None = None,
    plan_name: str = "free",
) -> list[Part]:
    """The parts still ahead of a job (`skip`: steps already succeeded or skipped), each step
    shaped by the provider its chain will try first for the job's user and plan."""
    from chalicelib.accounts import byok
    from chalicelib.billing.plans import plan_named
    from chalicelib.pipeline import providers
    from chalicelib.pipeline.concept import script, storyboard

    own = byok.stored(user_id) if user_id else set()
    tiers, platform = plan_named(plan_name).ai, get_settings().platform_providers

    def first(purpose: str) -> str:
        return providers.choose(purpose, request, tiers, own=own, platform=platform)[0].provider

    pipeline = get_settings().pipeline
    seconds = video_seconds(request)
    parts = [Part(QUEUE, QUEUE, 1)] if queued else []
    if pipeline == "steps":
        concept = "script" if script.is_script(request) else first("concept")
        image = first("image") + ("+" + first("narration") if request.get("narration", True) else "")
        animated = storyboard.animated(request.get("motion", "none"), scene_count(request))
        parts += [
            Part("concept", f"concept:{concept}", 1),
            Part("image", f"image:{image}", scene_count(request)),
            Part("video", "video:ffmpeg" + (f"+{first('video')}" if animated else ""), seconds),
        ]
    else:  # a customer's orchestrator makes the video; concept and image are skipped
        parts.append(Part("video", f"video:{pipeline}", seconds))
    parts.append(Part("upload", "upload", seconds))
    parts = [p for p in parts if p.name not in skip]
    _price(parts)
    return parts


def _price(parts: list[Part]) -> None:
    found = step_times.load(sorted({p.shape for p in parts}))
    for part in parts:
        samples, start = found[part.shape], step_times.prior(part.name)
        part.planned_s = round(step_times.warm_line(samples, start).at(part.units), 3)
        part.cold_s = round(step_times.cold_extra(samples, start), 3)
        part.measured = bool(samples)


def replan(job_id: str, *, scenes: int | None = None, seconds: float | None = None) -> None:
    """The job's real shape, once a step knows it (the concept's scenes and length, a script's
    narrated length): what is ahead is priced again by it. Never raises (as on_event)."""
    try:
        redis = redis_client.client()
        key = redis_keys.job_eta(job_id)
        raw = redis.get(key)
        if not raw:
            return
        state = State.load(str(raw))
        units = {"image": scenes, "video": seconds, "upload": seconds}
        ahead = [
            p
            for p in state.parts
            if p.name not in state.finished and units.get(p.name) is not None and p.units != units[p.name]
        ]
        for part in ahead:
            part.units = float(units[part.name] or 0)
        if not ahead:
            return
        _price(ahead)
        now = time.time()
        state.eta_at = now + seconds_left(state, now)
        redis.set(key, state.dump(), ex=STATE_TTL_S)
    except Exception:
        log.warning("time-left estimate not refined", extra={"job_id": job_id}, exc_info=True)


# ---- following a job ----------------------------------------------------------------------
def _shrunk_pace(state: State, actual: float, planned: float) -> float:
    """This job's actual over planned time so far, shrunk toward 1 while little has run (a
    tenth of a second saved on a short step says nothing about the long one after it)."""
    prior = PRIOR_SHARE * sum(p.expected_s for p in state.parts) + 1e-3
    pace = (actual + prior) / (planned + prior)
    return min(PACE_LIMITS[1], max(PACE_LIMITS[0], pace))


def seconds_left(state: State, now: float) -> float:
    """The running part: its plan (at this job's pace so far) less the time it has run, blended
    with what its own progress says is left, the more as it gets on; the parts after it: their
    plans at the pace of everything this job has run, the running part included."""
    pace = _shrunk_pace(state, state.done_actual, state.done_planned)
    running = next((p for p in state.parts if p.name == state.step and p.name not in state.finished), None)
    left_now, actual, planned = 0.0, state.done_actual, state.done_planned
    if running is not None:
        elapsed = max(0.0, now - state.step_at)
        expected = pace * running.expected_s
        by_plan = max(expected - elapsed, OVERRUN_TAIL * elapsed)
        f = state.fraction
        trust = min(1.0, f / FULL_TRUST_AT) if f > 0 else 0.0
        by_pace = elapsed * (1 - f) / f if f > 0 else by_plan
        left_now = trust * by_pace + (1 - trust) * by_plan
        # How fast it goes says how fast the rest will: as much as it has shown (its progress,
        # or all of it once it overran its plan, as when it finishes).
        shown = f if f > 0 else float(elapsed > expected)
        if running.name != QUEUE:
            actual += shown * (elapsed + left_now)
            planned += shown * running.expected_s
    later = _shrunk_pace(state, actual, planned)
    ahead = (p for p in state.parts if p.name not in state.finished and p is not running)
    return left_now + sum(later * p.expected_s for p in ahead)


def _job_and_done(job_id: str):
    """(the job's row, its steps already succeeded or skipped), or None."""
    from chalicelib.jobs import repository as jobs_db
    from chalicelib.jobs.states import StepStatus

    row = jobs_db.get(job_id, None)
    if row is None:
        return None
    steps = jobs_db.steps_of([job_id]).get(job_id, [])
    return row, {s.name for s in steps if s.status in (StepStatus.succeeded, StepStatus.skipped)}


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
        found = _job_and_done(job_id)
        if found is None:
            return None
        job, done = found
        waiting = type_ in (EventType.job_queued, EventType.job_retrying)
        state = State(parts=plan(job.request, done, queued=waiting, user_id=job.user_id, plan_name=job.plan))
        if waiting:
            state.step, state.step_at = QUEUE, now
        elif step and type_ is EventType.step_progress:  # its state was lost mid-step
            state.step, state.step_at = step, now
    if type_ is EventType.job_started:
        _finish(state, QUEUE, now)
    elif type_ is EventType.step_started and step:
        _start(state, step, now)
    elif type_ is EventType.step_progress and step == state.step and step_progress is not None:
        state.fraction = max(state.fraction, min(1.0, step_progress / 100))
    elif type_ is EventType.step_succeeded and step:
        _finish(state, step, now)
    left = seconds_left(state, now)
    state.eta_at = now + left
    redis.set(key, state.dump(), ex=STATE_TTL_S)
    return left


def _start(state: State, name: str, now: float) -> None:
    state.step, state.step_at, state.fraction = name, now, 0.0
    part = next((p for p in state.parts if p.name == name), None)
    if part is not None and name != QUEUE:
        part.cold = part.shape not in _RAN_HERE
        _RAN_HERE.add(part.shape)


def _finish(state: State, name: str, now: float) -> None:
    part = next((p for p in state.parts if p.name == name), None)
    if part is None or name in state.finished:
        return
    if state.step == name:
        took = max(0.0, now - state.step_at)
        if name != QUEUE:  # the wait in line says nothing of how fast this job runs
            state.done_planned += part.expected_s
            state.done_actual += took
        if name != QUEUE or took < 60:  # ...and a long one little of the next job's
            step_times.record(part.shape, step_times.Sample(part.units, took, part.cold))
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
