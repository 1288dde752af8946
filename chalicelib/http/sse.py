"""Server-Sent-Events framing of an event page, so a browser EventSource can follow a job."""

from __future__ import annotations

from chalicelib.http.schemas.jobs import EventPage

HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
}
RECONNECT_MS = 1000


def wanted(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "").lower()


def frames(page: EventPage) -> str:
    """One frame per event; `id:` makes the browser send it back as Last-Event-ID."""
    out = [f"retry: {RECONNECT_MS}\n"]
    for event in page.events:
        out.append(f"id: {event.id}\nevent: {event.type.value}\ndata: {event.model_dump_json()}\n")
    if not page.events:
        out.append(": no new events\n")
    return "\n".join(out) + "\n"
