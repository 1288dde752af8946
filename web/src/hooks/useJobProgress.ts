// Live progress of a job: EventSource on the events endpoint (SSE), which reconnects by itself
// with Last-Event-ID each time the server's window ends; long-polling the same endpoint as JSON
// where EventSource is missing. Either way the events fold into one ProgressState.
import { useEffect, useReducer, useRef } from "react";
import { api } from "../api/client";
import { eventTypeValues } from "../api/openapi";
import type { EventPage, Job, JobEvent, StreamToken } from "../api/types";
import { TERMINAL } from "../api/types";
import { applyEvent, initialProgress, type ProgressState } from "./progress";

// Every event type the API sends (its EventType enum): an SSE frame is dispatched by its type.
export const EVENT_TYPES = eventTypeValues;
// Chalice can't stream, so an SSE window ends at its first batch of events (or after this many
// quiet seconds) and the server's short `retry:` opens the next at once: the long-poll's lag.
export const SSE_WINDOW_S = 15;
export const POLL_WAIT_S = 15;

type Action = { type: "event"; event: JobEvent; receivedAt: number } | { type: "reset"; job?: Job };

function reducer(state: ProgressState, action: Action): ProgressState {
  return action.type === "event" ? applyEvent(state, action.event, action.receivedAt) : initialProgress(action.job);
}

export interface Options {
  /** Called on boundaries (step or job events) so the caller can refetch the job itself. */
  onBoundary?: (event: JobEvent) => void;
  /** For tests: force the polling path. */
  transport?: "auto" | "poll";
}

export function useJobProgress(jobId: string, job: Job | undefined, opts: Options = {}) {
  const [state, dispatch] = useReducer(reducer, job, initialProgress);
  const boundary = useRef(opts.onBoundary);
  boundary.current = opts.onBoundary;
  const terminal = job ? TERMINAL.includes(job.status) : false;
  const attempt = job?.attempt;
  const restartKey = `${jobId}:${attempt}:${terminal}`;
  const lastId = useRef<string | null>(null);

  useEffect(() => {
    if (!job || terminal) return;
    dispatch({ type: "reset", job }); // a retried job starts over from what the API says now
    let stopped = false;
    const seen = (event: JobEvent) => {
      if (stopped) return;
      lastId.current = event.id;
      dispatch({ type: "event", event, receivedAt: Date.now() });
      if (event.type !== "step.progress") boundary.current?.(event);
    };
    const useSse = opts.transport !== "poll" && typeof window.EventSource === "function";
    const stop = useSse ? followSse(jobId, lastId, seen, () => stopped) : followPolling(jobId, lastId, seen, () => stopped);
    return () => { stopped = true; stop(); };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [restartKey]);

  return state;
}

function isTerminalEvent(event: JobEvent) {
  return event.type === "job.succeeded" || event.type === "job.failed" || event.type === "job.canceled";
}

function followSse(jobId: string, lastId: { current: string | null }, seen: (e: JobEvent) => void,
                   stopped: () => boolean): () => void {
  let source: EventSource | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  const open = async () => {
    let token: string;
    try {
      token = (await api<StreamToken>(`/v1/jobs/${jobId}/stream-token`, { method: "POST" })).token;
    } catch {
      if (!stopped()) retryTimer = setTimeout(open, Math.min(10000, 1000 * 2 ** failures++));
      return;
    }
    if (stopped()) return;
    const params = new URLSearchParams({ wait: String(SSE_WINDOW_S), stream_token: token });
    if (lastId.current) params.set("after", lastId.current);
    source = new EventSource(`/v1/jobs/${jobId}/events?${params}`);
    const onEvent = (message: MessageEvent) => {
      failures = 0;
      const event = JSON.parse(message.data) as JobEvent;
      seen(event);
      if (isTerminalEvent(event)) source?.close();
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, onEvent as EventListener);
    source.onerror = () => {
      // CONNECTING: the window ended and the browser reconnects with Last-Event-ID by itself.
      // CLOSED: an HTTP error (e.g. the stream token expired): a new token, from the last event.
      if (source?.readyState === EventSource.CLOSED && !stopped()) {
        source = null;
        retryTimer = setTimeout(open, Math.min(10000, 500 * 2 ** failures++));
      }
    };
  };
  // Catch up at once with a JSON read (a wait=0 page), then follow.
  const catchUp = async () => {
    try {
      const params = new URLSearchParams({ wait: "0" });
      if (lastId.current) params.set("after", lastId.current);
      const page = await api<EventPage>(`/v1/jobs/${jobId}/events?${params}`);
      page.events.forEach(seen);
      if (page.events.some(isTerminalEvent)) return;
    } catch {
      // the EventSource below retries on its own
    }
    if (!stopped()) await open();
  };
  void catchUp();
  return () => { clearTimeout(retryTimer); source?.close(); };
}

function followPolling(jobId: string, lastId: { current: string | null }, seen: (e: JobEvent) => void,
                       stopped: () => boolean): () => void {
  const controller = new AbortController();
  const loop = async () => {
    let failures = 0;
    while (!stopped()) {
      const params = new URLSearchParams({ wait: String(POLL_WAIT_S) });
      if (lastId.current) params.set("after", lastId.current);
      try {
        const page = await api<EventPage>(`/v1/jobs/${jobId}/events?${params}`, { signal: controller.signal });
        failures = 0;
        page.events.forEach(seen);
        if (TERMINAL.includes(page.status) && page.events.some(isTerminalEvent)) return;
        if (TERMINAL.includes(page.status) && page.events.length === 0) return;
      } catch (err) {
        if ((err as Error).name === "AbortError" || stopped()) return;
        await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** failures++)));
      }
    }
  };
  void loop();
  return () => controller.abort();
}
