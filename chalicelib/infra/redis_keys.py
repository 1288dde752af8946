"""Every Redis key the application owns (BullMQ's own keys live under `settings.queue_prefix`).

Redis may run in cluster mode (ElastiCache Serverless), where one command, MULTI or Lua script may
only touch keys of one hash slot. So the part in braces (the hash tag: the only part hashed) is
what keys used together share: a job's keys hash on the job id, a login throttle's on the
account, a breaker's on its endpoint. Keys of different jobs are never in one command
(chalicelib.runtime.cleanup deletes streams one key per command).
"""


def job_events(job_id: str) -> str:
    """Stream of a job's progress events (bounded, expires after the job is long finished)."""
    return f"media:job:{{{job_id}}}:events"


def job_cancel(job_id: str) -> str:
    """Set when a user cancels; the worker holding the job polls it."""
    return f"media:job:{{{job_id}}}:cancel"


def job_heartbeat(job_id: str) -> str:
    """The lease owner of a running job, refreshed by its worker: alive even while MySQL is away."""
    return f"media:job:{job_id}:heartbeat"


def job_eta(job_id: str) -> str:
    """A job's time-left estimate as it runs: its plan and where it is (JSON, see jobs/eta.py)."""
    return f"media:job:{{{job_id}}}:eta"


def eta_samples(shape: str) -> str:
    """Recent real durations of one step shape (step and providers): a capped list of
    [units, seconds, cold], what the next jobs' estimates are priced by (jobs/step_times.py)."""
    return f"media:eta:{shape}:samples"


RATE_LIMIT_PREFIX = "media:rl"  # the `limits` library's counters live under this prefix


def login_failures(account: str) -> str:
    """Failed logins of one account from one source (hashed together) in the current window."""
    return f"media:login:{{{account}}}:failures"


def login_blocked(account: str) -> str:
    """Present while an account's next login from that source must wait; its TTL is the wait."""
    return f"media:login:{{{account}}}:blocked"


def provider_failures(provider: str, endpoint: str) -> str:
    """Transient failures of one provider endpoint in the breaker's current window."""
    return f"media:provider:{{{provider}:{endpoint}}}:failures"


def provider_open(provider: str, endpoint: str) -> str:
    """Present while the endpoint's circuit is open (skipped by every worker); TTL = cool-down."""
    return f"media:provider:{{{provider}:{endpoint}}}:open"


def fal_request(token: str) -> str:
    """The queue URLs of a fal generation in flight, under the call's idempotency key (a job's
    call, the same on every attempt): a replacement worker follows it instead of buying it again."""
    return f"media:fal:{{{token}}}:request"


def long_polls(user_id: str) -> str:
    """The user's open events long-polls: a sorted set of slots scored by when each lapses."""
    return f"media:longpoll:{{{user_id}}}"


def dispatch_nudge(queue_name: str) -> str:
    """Present for NUDGE_DEBOUNCE_MS after a submission asked the dispatcher to run (expires)."""
    return f"media:dispatch:{{{queue_name}}}:nudge"


def dispatch_lock(queue_name: str) -> str:
    """Held by the running dispatch pass (one at a time; expires if its holder dies)."""
    return f"media:dispatch:{{{queue_name}}}:lock"


def platform_spend(day: str, provider: str) -> str:
    """Micro-dollars the platform's account for `provider` spent on `day` (YYYY-MM-DD, UTC)."""
    return f"media:spend:{{{day}}}:platform:{provider}"


def user_spend(day: str, user_id: str, provider: str) -> str:
    """Micro-dollars one user's jobs spent on the platform's `provider` account on `day`."""
    return f"media:spend:{{{day}}}:user:{user_id}:{provider}"
