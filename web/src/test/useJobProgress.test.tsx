import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useJobProgress } from "../hooks/useJobProgress";
import type { EventType, Job, JobEvent } from "../api/types";

const job: Job = {
  id: "job_1", status: "running", progress: 0, current_step: null, attempt: 1, error: null, outputs: null,
  request: { prompt: "p" }, created_at: "", started_at: null, finished_at: null, eta_s: null, eta_at: null,
  steps: ([["concept", 5], ["image", 20], ["video", 65], ["upload", 10]] as const).map(([name, weight]) => ({ name,
    status: "pending", progress: 0, weight, attempt: 1, started_at: null, finished_at: null, provider: null, cost_micros: 0 })),
};
const event = (id: string, type: EventType, step: string | null, progress: number): JobEvent =>
  ({ id, type, step, progress, message: null, at: "2026-01-01T00:00:00Z", eta_s: null, eta_at: null });

class FakeEventSource {
  static instances: FakeEventSource[] = [];
  static CLOSED = 2;
  readyState = 0;
  listeners: Record<string, ((m: MessageEvent) => void)[]> = {};
  onerror: (() => void) | null = null;
  constructor(public url: string) { FakeEventSource.instances.push(this); }
  addEventListener(type: string, fn: (m: MessageEvent) => void) { (this.listeners[type] ??= []).push(fn); }
  close() { this.readyState = 2; }
  emit(e: ReturnType<typeof event>) {
    for (const fn of this.listeners[e.type] ?? []) fn(new MessageEvent(e.type, { data: JSON.stringify(e), lastEventId: e.id }));
  }
}

function routes(handler: (url: string) => unknown) {
  return vi.fn(async (url: string) => new Response(JSON.stringify(handler(url)), { status: 200 }));
}

beforeEach(() => { FakeEventSource.instances = []; });
afterEach(() => vi.unstubAllGlobals());

describe("useJobProgress", () => {
  it("catches up, then follows an EventSource opened with a job-scoped stream token", async () => {
    vi.stubGlobal("EventSource", FakeEventSource);
    vi.stubGlobal("fetch", routes((url) => url.includes("stream-token") ? { token: "st_1", expires_in: 600 }
      : { events: [event("1-0", "job.started", null, 0)], next: "1-0", status: "running" }));
    const { result } = renderHook(() => useJobProgress("job_1", job));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const source = FakeEventSource.instances[0];
    expect(source.url).toContain("/v1/jobs/job_1/events?");
    expect(source.url).toContain("stream_token=st_1");
    expect(source.url).toContain("after=1-0");
    expect(result.current.updates).toBe(1);
    act(() => source.emit(event("2-0", "step.progress", "video", 51)));
    expect(result.current.progress).toBe(51);
    expect(result.current.steps.find((s) => s.name === "video")?.progress).toBe(40);
    act(() => source.emit(event("3-0", "job.succeeded", null, 100)));
    expect(result.current.status).toBe("succeeded");
    expect(source.readyState).toBe(2); // closed: nothing more to follow
  });

  it("long-polls the JSON events endpoint where EventSource is missing", async () => {
    vi.stubGlobal("EventSource", undefined);
    const pages = [
      { events: [event("1-0", "job.started", null, 0), event("2-0", "step.progress", "image", 15)], next: "2-0", status: "running" },
      { events: [event("3-0", "job.succeeded", null, 100)], next: "3-0", status: "succeeded" },
    ];
    const fetchMock = routes(() => pages.shift());
    vi.stubGlobal("fetch", fetchMock);
    const { result } = renderHook(() => useJobProgress("job_1", job));
    await waitFor(() => expect(result.current.status).toBe("succeeded"));
    expect(result.current.progress).toBe(100);
    expect(fetchMock.mock.calls[1][0]).toContain("after=2-0");
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it("does nothing for a job that has ended", () => {
    const fetchMock = vi.fn();
    vi.stubGlobal("fetch", fetchMock);
    renderHook(() => useJobProgress("job_1", { ...job, status: "succeeded", progress: 100 }));
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
