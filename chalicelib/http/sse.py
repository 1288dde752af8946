"""Server-Sent-Events framing of an event page, so a browser EventSource can follow a job.

Chalice can't stream a response, so each SSE response is one window that ends with its first
batch of events; `retry:` then makes the browser reconnect (with Last-Event-ID) at once, which
gives an EventSource the long-poll's lag. Only a window with nothing to say and no reason to
wait (a finished job, `wait=0`) asks for the slow reconnect.
"""

from __future__ import annotations

from chalicelib.http.schemas.jobs import EventPage
from chalicelib.jobs.states import TERMINAL

HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
}
LIVE_RECONNECT_MS = 5  # after a batch or a quiet window: the next window opens at once
RECONNECT_MS = 1000  # nothing came and nothing will soon: no busy loop


def wanted(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "").lower()


def reconnect_ms(page: EventPage, waited: bool) -> int:
    """Quick when the window delivered events or held its whole (quiet) bound for a live job."""
    live = bool(page.events) or (waited and page.status not in TERMINAL)
    return LIVE_RECONNECT_MS if live else RECONNECT_MS


def frames(page: EventPage, waited: bool = False) -> str:
    """One frame per event; `id:` makes the browser send it back as Last-Event-ID."""
    out = [f"retry: {reconnect_ms(page, waited)}\n"]
    for event in page.events:
        out.append(f"id: {event.id}\nevent: {event.type.value}\ndata: {event.model_dump_json()}\n")
    if not page.events:
        out.append(": no new events\n")
    return "\n".join(out) + "\n"
