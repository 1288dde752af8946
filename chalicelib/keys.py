"""Every Redis key the application owns (BullMQ's own keys live under `settings.queue_prefix`)."""


def job_events(job_id: str) -> str:
    """Stream of a job's progress events (bounded, expires after the job is long finished)."""
    return f"media:job:{job_id}:events"


def job_cancel(job_id: str) -> str:
    """Set when a user cancels; the worker holding the job polls it."""
    return f"media:job:{job_id}:cancel"
