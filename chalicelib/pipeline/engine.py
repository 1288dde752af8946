"""Runs one job's steps in order: concept -> image -> video -> upload (the steps: steps/).

Steps are checkpoints: each writes its artifacts to deterministic S3 keys and its row in
`job_steps`; a retried job skips a succeeded step once its artifacts are confirmed in S3.
Runs in a worker thread (blocking I/O, Pillow, ffmpeg), never on the BullMQ event loop. Each
step runs under the step time limit (step_limit.py); cancel reaches it through ctx.stop.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

from chalicelib.billing.plans import entitlement
from chalicelib.core.ids import utcnow
from chalicelib.core.settings import get_settings
from chalicelib.infra import outage, storage
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import STEP_NAMES, STEP_WEIGHTS, Claim, JobStatus, StepStatus
from chalicelib.pipeline import call_cache, registry, step_limit
from chalicelib.pipeline.context import Context
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.steps import upload

log = logging.getLogger(__name__)

__all__ = ["StepError", "JobGone", "UserBusy", "StoreOutage", "run_job"]  # StepError: re-exported for callers


class JobGone(Exception):
    """The job left the running state under us (canceled, or already finished elsewhere)."""


class UserBusy(Exception):
    """The user already runs as many jobs as their plan allows: this one waits in the queue."""


class StoreOutage(Exception):
    """MySQL or Redis failed under the job (chalicelib.infra.outage): weather, not a step failure.
    The worker pauses and runs the job again from its checkpoints, spending no attempt."""

    def __init__(self, store: outage.Store):
        super().__init__(f"{store.value} unavailable")
        self.store = store


def _as_outage(exc: BaseException) -> StoreOutage | None:
    store = outage.store_of(exc)
    return StoreOutage(store) if store is not None else None


def _checkpoint_ok(step: jobs_db.StepRow) -> bool:
    return (
        step.status is StepStatus.succeeded
        and bool(step.artifacts)
        and all(map(storage.exists, step.artifacts))
    )


def run_job(job_id: str, owner: str, stop: threading.Event, lease_s: int) -> str:
    """Run or resume a job under the lease `owner`; returns its final status.

    Raises UserBusy (wait in the queue), JobGone (canceled, or no longer ours), StepError
    (the caller retries transient ones) or StoreOutage (the caller pauses and runs it again)."""
    try:
        return _claim_and_run(job_id, owner, stop, lease_s)
    except (JobGone, UserBusy, StoreOutage):
        raise
    except Exception as exc:  # a store error at a step boundary (start, step rows, finish)
        paused = _as_outage(exc)
        if paused is None:
            raise
        raise paused from exc


def _claim_and_run(job_id: str, owner: str, stop: threading.Event, lease_s: int) -> str:
    row = jobs_db.get(job_id, None)
    if row is None or row.status not in (JobStatus.queued, JobStatus.running):
        return row.status.value if row else "missing"
    plan = entitlement(row.user_id, utcnow()).plan
    outcome = lifecycle.start(job_id, row.user_id, plan.max_concurrency, owner, lease_s)
    if outcome is Claim.busy:
        raise UserBusy(job_id)
    if outcome is Claim.gone:
        raise JobGone(job_id)
    # Scratch space of this attempt only: another attempt (even on this host) never shares it,
    # and it goes when the attempt ends, whatever the outcome (checkpoints live in S3).
    ctx = Context(
        job_id=job_id,
        request=row.request,
        owner=owner,
        stop=stop,
        work=Path(get_settings().work_dir) / f"{job_id}-{owner[:12]}",
        user_id=row.user_id,
        plan=row.plan,
        attempt=row.attempt,
    )
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        return _run_steps(ctx)
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)


def _run_steps(ctx: Context) -> str:
    job_id, owner = ctx.job_id, ctx.owner
    done: dict[str, list[str]] = {}
    steps = {s.name: s for s in jobs_db.steps_of([job_id])[job_id]}
    pipeline = registry.pipelines()[get_settings().pipeline].step_functions()
    for name in STEP_NAMES:
        ctx.step = name
        if _checkpoint_ok(steps[name]) or pipeline[name] is None:
            if (
                pipeline[name] is None
                and steps[name].status is not StepStatus.skipped
                and not lifecycle.step_skipped(job_id, name, owner)
            ):
                raise JobGone(job_id)
            done[name] = steps[name].artifacts
            ctx.base += STEP_WEIGHTS[name]
            continue
        if ctx.should_stop() or not lifecycle.step_started(job_id, name, owner, ctx.base):
            raise JobGone(job_id)
        ctx._last, ctx._said, ctx.provider, ctx.usage, ctx.claimed = (-1, 0.0), None, None, None, 0
        started = time.monotonic()
        try:
            done[name] = step_limit.run_bounded(pipeline[name], ctx, done, stop=ctx.stop)
        except RenderCanceled:
            raise JobGone(job_id) from None
        except StepError as exc:
            if (paused := _as_outage(exc)) is not None:
                raise paused from exc
            exc.step = name
            _step_failed(ctx, exc)
            raise
        except Exception as exc:  # unknown: assume transient, the retry budget bounds it
            if (paused := _as_outage(exc)) is not None:  # not the step's fault: not a failure
                raise paused from exc
            log.exception("step failed", extra={"job_id": job_id, "step": name})
            err = StepError(
                f"{name}_failed",
                f"the {name} step failed unexpectedly",  # the exception: log and operators
                transient=True,
                step=name,
                detail=f"{type(exc).__name__}: {exc}",
            )
            _step_failed(ctx, err)
            raise err from exc
        ctx.report(100, force=True)
        if not lifecycle.step_succeeded(
            job_id,
            name,
            owner,
            artifacts=done[name],
            provider=ctx.provider,
            usage=ctx.usage,
            job_progress=ctx.base + STEP_WEIGHTS[name],
            took_s=time.monotonic() - started,
        ):
            raise JobGone(job_id)
        ctx.base += STEP_WEIGHTS[name]
    _drop_paid_results(job_id)
    if not lifecycle.succeed(job_id, upload.job_outputs(done["upload"]), owner):
        raise JobGone(job_id)
    return JobStatus.succeeded.value


def _drop_paid_results(job_id: str) -> None:
    """Every step is checkpointed now, so no provider call runs again: the kept results
    (call_cache) go now, not at the end of the job's retention. Best effort: cleanup deletes
    them with the job otherwise."""
    try:
        call_cache.discard(job_id)
    except Exception:
        log.warning("could not drop the job's kept provider results", extra={"job_id": job_id})


def _step_failed(ctx: Context, exc: StepError) -> None:
    lifecycle.step_failed(ctx.job_id, ctx.step, ctx.owner, exc.code, exc.message, exc.detail)
