"""Progress events: a bounded Redis stream per job, read by the events endpoint.

The stream id is the event id and the client's cursor. Redis may lose streams (it is not the
source of truth); step boundaries are also kept in MySQL, so a job's state survives.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import Event
from chalicelib.infra import redis_keys
from chalicelib.infra.redis_client import client
from chalicelib.jobs import eta, longpoll
from chalicelib.jobs.states import EventType

STREAM_TTL_S = 7 * 24 * 3600
# The engine's boundary events come in pairs milliseconds apart (a step's end, then the next
# step's start or the job's end; the job's start, then its first step's): a waiting poll that
# got the first waits a moment for the second, which would otherwise come a reconnect later.
FOLLOWED = frozenset({EventType.job_started, EventType.step_succeeded})
FOLLOW_MS = 30


def emit(
    job_id: str,
    type_: EventType,
    *,
    step: str | None = None,
    progress: int | None = None,
    message: str | None = None,
    step_progress: int | None = None,
) -> Event:
    """Append one event to the job's stream, with the job's time left as of it (jobs/eta.py
    follows the job through its events; `step_progress` is the running step's own 0..100).
    Only this: fan-out to webhooks is the publisher's explicit second call
    (chalicelib.jobs.lifecycle), not a side effect of writing the stream."""
    now = time.time()
    left = eta.on_event(job_id, type_, step, step_progress, now)
    payload = {
        "type": type_.value,
        "step": step,
        "progress": progress,
        "message": message,
        "at": eta.iso_at(now),
        "eta_s": None if left is None else round(left, 1),
        "eta_at": None if left is None else eta.iso_at(now + left),
    }
    name = redis_keys.job_events(job_id)
    pipe = client().pipeline(transaction=False)
    pipe.xadd(name, {"e": json.dumps(payload)}, maxlen=get_settings().events_max_per_job, approximate=True)
    pipe.expire(name, STREAM_TTL_S)
    event_id, _ = pipe.execute()
    return Event(id=event_id, **payload)


def _event(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(id=entry_id, **json.loads(fields["e"]))


def read(job_id: str, after: str | None, wait_s: float, limit: int = 200) -> list[Event]:
    """Events after the cursor; blocks up to `wait_s` for the first one when there are none yet
    (and, past a FOLLOWED event, up to FOLLOW_MS for the one that comes right after it)."""
    name = redis_keys.job_events(job_id)
    start = after or "0-0"
    found: Any = client().xread({name: start}, count=limit)
    block = longpoll.block_ms(wait_s)
    if not found and block is not None:
        found = client(blocking=True).xread({name: start}, count=limit, block=block)
    if not found:
        return []
    events = [_event(entry_id, fields) for entry_id, fields in found[0][1]]
    if block is not None and events[-1].type in FOLLOWED and len(events) < limit:
        more: Any = client(blocking=True).xread(
            {name: events[-1].id}, count=limit - len(events), block=FOLLOW_MS
        )
        events += [_event(entry_id, fields) for entry_id, fields in (more[0][1] if more else [])]
    return events


def last_event(job_id: str) -> Event | None:
    entries = client().xrevrange(redis_keys.job_events(job_id), count=1)
    return _event(*cast(tuple[str, dict[str, str]], entries[0])) if entries else None
