"""The job domain's vocabulary: job and step states, step names, event types.

A leaf (imports nothing of ours): the SQL layer, the schemas and the pipeline all speak it.
"""

from enum import Enum


class JobStatus(str, Enum):
    """A job's life: queued -> running -> succeeded | failed | canceled (| expired, later)."""

    #: accepted, waiting for a worker (also after a transient failure)
    queued = "queued"
    #: a worker holds it
    running = "running"
    #: outputs are in S3
    succeeded = "succeeded"
    #: out of attempts or a permanent error; `error` says why
    failed = "failed"
    #: stopped by the user
    canceled = "canceled"
    #: past the plan's retention: its media is deleted, outputs are null
    expired = "expired"


TERMINAL = {JobStatus.succeeded, JobStatus.failed, JobStatus.canceled, JobStatus.expired}


class StepStatus(str, Enum):
    """A step's life: pending -> running -> succeeded | failed | canceled | skipped."""

    #: not reached yet
    pending = "pending"
    #: a worker is making its artifacts
    running = "running"
    #: its artifacts are checkpointed in S3; a retry skips it
    succeeded = "succeeded"
    #: the job's error names this step
    failed = "failed"
    #: the job was canceled while it ran or before it began
    canceled = "canceled"
    #: the pipeline has nothing to do here (e.g. a command pipeline's own steps)
    skipped = "skipped"


STEP_NAMES = ("concept", "image", "video", "upload")
# Each step's share of the job's progress bar (sum 100): the render is most of the wait.
STEP_WEIGHTS = {"concept": 5, "image": 20, "video": 65, "upload": 10}


class EventType(str, Enum):
    """What a job's progress stream (and a user's webhooks) can say."""

    #: accepted and in the queue
    job_queued = "job.queued"
    #: a worker took it
    job_started = "job.started"
    #: a step began
    step_started = "step.started"
    #: a step moved on (its own and the job's percentage)
    step_progress = "step.progress"
    #: a step's artifacts are checkpointed
    step_succeeded = "step.succeeded"
    #: a step failed (the job may still retry)
    step_failed = "step.failed"
    #: a transient failure: back in the queue with attempt + 1
    job_retrying = "job.retrying"
    #: outputs are ready
    job_succeeded = "job.succeeded"
    #: out of attempts or a permanent error
    job_failed = "job.failed"
    #: stopped by the user
    job_canceled = "job.canceled"


class Claim(str, Enum):
    """What a worker's attempt to start a job got."""

    #: the lease is ours: run it
    started = "started"
    #: the user has no free slot, or another live worker holds the lease: later
    busy = "busy"
    #: canceled or finished: drop it
    gone = "gone"
