"""What every step function gets: the job's request, its scratch folder, its lease and stop
event, and the ways a step reports back (progress, the provider that made its artifact, what
it spent). The engine makes one per attempt and moves it from step to step.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import outage, redis_client, storage
from chalicelib.jobs import eta, lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import STEP_WEIGHTS
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.uploads import service as uploads

log = logging.getLogger(__name__)
OUTAGE_REPORT_PAUSE_S = 2.0


@dataclass
class Context:
    job_id: str
    request: dict
    work: Path
    owner: str  # this attempt's lease on the job (see lifecycle.start)
    stop: threading.Event  # set when the job was canceled or its lease was lost
    step: str = ""
    base: int = 0  # job progress when the current step began
    _last: tuple[int, float] = (-1, 0.0)
    _said: str | None = None  # the step's last message
    concept: Concept | None = None
    user_id: str = ""
    plan: str = "free"  # the plan the job was accepted on
    attempt: int = 1
    provider: str | None = None  # which provider made the current step's artifact
    usage: list[StepUsage] | None = None  # what the current step's providers spent
    claimed: int = 0  # upper bounds of the platform calls the current step let go
    _credits: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self, result: provider_chain.Outcome) -> Any:
        """Record a provider's result on the current step; returns its value."""
        self.usage = (self.usage or []) + result.usage
        self.provider = self.provider or result.provider
        for note in result.notes:
            lifecycle.add_note(self.job_id, note)
        return result.value

    def task(self, **fields) -> provider_chain.Task:
        return provider_chain.Task(
            request=self.request,
            user_id=self.user_id,
            job_id=self.job_id,
            plan=self.plan,
            claim=self.claim_credits,
            should_stop=self.should_stop,
            **fields,
        )

    def claim_credits(self, upper: int) -> int | None:
        """Let a platform call that can cost up to `upper` go ahead (None), or refuse it with
        what is left. What the job holds, less what its finished steps spent and the bounds of
        the calls this step already let go (the step's purposes run side by side)."""
        with self._credits:
            left = jobs_db.credits_left(self.job_id) - self.claimed
            if upper > left:
                return max(0, left)
            self.claimed += upper
            return None

    def replan(self, *, scenes: int | None = None, seconds: float | None = None) -> None:
        """What the job turned out to be, once a step knows (its scenes, its video's length):
        the time left prices the steps ahead by it (jobs/eta.py)."""
        eta.replan(self.job_id, scenes=scenes, seconds=seconds)

    def input_file(self, field: str, name: str) -> Path | None:
        """The upload the request names in `inputs[field]`, as work/name (downloaded once);
        None when it names none."""
        upload_id = (self.request.get("inputs") or {}).get(field)
        if not upload_id:
            return None
        path = self.work / name
        if not path.exists():
            storage.download(uploads.object_key_for(self.user_id, upload_id), path)
        return path

    def should_stop(self) -> bool:
        if not self.stop.is_set() and _cancel_flag_set(self.job_id, self.attempt):
            self.stop.set()
        return self.stop.is_set()

    def report(self, step_progress: int, force: bool = False, message: str | None = None) -> None:
        """Step progress 0..100 (and the step's own words) -> MySQL and the event stream, at
        most ~4 times a second unless the words changed."""
        step_progress = max(0, min(100, int(step_progress)))
        job_progress = self.base + STEP_WEIGHTS[self.step] * step_progress // 100
        last_value, last_at = self._last
        now = time.monotonic()
        fresh = message is not None and message != self._said
        if not force and (step_progress <= last_value or (now - last_at < 0.25 and not fresh)):
            return
        try:
            ours = lifecycle.report_progress(
                self.job_id, self.step, step_progress, job_progress, self.owner, message=message
            )
        except Exception as exc:
            store = outage.store_of(exc)
            if store is None:
                raise
            # Progress is not worth stopping the step for: the next report (or the step's end,
            # which waits out the outage) catches up, and MySQL only ever moves it forward.
            outage.report(store, exc, "progress")
            self._last = (last_value, now + OUTAGE_REPORT_PAUSE_S)  # not every frame while it is away
            return
        self._last, self._said = (step_progress, now), message or self._said
        if not ours:
            self.stop.set()


def scene_words(kind: str, percent: int, scenes: int) -> str:
    """Which scene a multi-scene step is making, e.g. "image 2 of 5", from its progress."""
    return f"{kind} {min(scenes, percent * scenes // 100 + 1)} of {scenes}"


def _cancel_flag_set(job_id: str, attempt: int) -> bool:
    """The cancel flag, when Redis answers; without it the lease tells the worker (slower)."""
    try:
        return lifecycle.cancel_requested(job_id, attempt)
    except redis_client.error():
        log.warning("cancel flag unreadable; relying on the lease", extra={"job_id": job_id})
        return False
