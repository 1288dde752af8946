import { describe, expect, it } from "vitest";
import { applyEvent, compareIds, initialProgress, timeLeftText } from "../hooks/progress";
import type { EventType, Job, JobEvent, Step } from "../api/types";

const ev = (id: string, type: EventType, step: string | null, progress: number | null, message: string | null = null): JobEvent =>
  ({ id, type, step, progress, message, at: "2026-01-01T00:00:00Z", eta_s: null, eta_at: null });

// The job reply's steps with their weights (what the API serves today).
function jobWith(weights: Record<Step["name"], number>): Job {
  return {
    id: "job_1", status: "running", progress: 0, current_step: null, attempt: 1, error: null, outputs: null,
    request: { prompt: "p" }, created_at: "", started_at: null, finished_at: null, eta_s: null, eta_at: null,
    steps: (Object.keys(weights) as Step["name"][]).map((name) => ({ name, status: "pending", progress: 0,
      weight: weights[name], attempt: 1, started_at: null, finished_at: null, provider: null, cost_micros: 0 })),
  };
}
const job = jobWith({ concept: 5, image: 20, video: 65, upload: 10 });

describe("applyEvent", () => {
  it("turns the job's progress into each step's own share", () => {
    let s = initialProgress(job);
    s = applyEvent(s, ev("1-0", "job.started", null, 0));
    s = applyEvent(s, ev("2-0", "step.started", "concept", 0));
    s = applyEvent(s, ev("3-0", "step.succeeded", "concept", 5));
    s = applyEvent(s, ev("4-0", "step.progress", "image", 15, "2 of 4 images"));
    expect(s.status).toBe("running");
    expect(s.progress).toBe(15);
    const byName = Object.fromEntries(s.steps.map((x) => [x.name, x]));
    expect(byName.concept).toMatchObject({ status: "succeeded", progress: 100 });
    expect(byName.image).toMatchObject({ status: "running", progress: 50, message: "2 of 4 images" });
    expect(byName.video.status).toBe("pending");
    expect(s.updates).toBe(4);
  });

  it("ignores an event it has already applied (a reconnect may repeat one)", () => {
    const s = applyEvent(initialProgress(job), ev("5-1", "step.progress", "video", 40));
    expect(applyEvent(s, ev("5-1", "step.progress", "video", 40))).toBe(s);
    expect(applyEvent(s, ev("5-0", "step.progress", "video", 30))).toBe(s);
  });

  it("ends at 100% on success and marks running steps canceled on cancel", () => {
    const running = applyEvent(initialProgress(job), ev("1-0", "step.progress", "video", 60));
    expect(applyEvent(running, ev("2-0", "job.succeeded", null, 100)).progress).toBe(100);
    const canceled = applyEvent(running, ev("2-0", "job.canceled", null, null));
    expect(canceled.status).toBe("canceled");
    expect(canceled.steps.find((x) => x.name === "video")?.status).toBe("canceled");
  });

  it("never moves the bar backwards except on a retry", () => {
    let s = applyEvent(initialProgress(job), ev("1-0", "step.progress", "video", 60));
    s = applyEvent(s, ev("2-0", "step.progress", "video", 50));
    expect(s.progress).toBe(60);
    s = applyEvent(s, ev("3-0", "job.retrying", null, 30));
    expect(s).toMatchObject({ status: "queued", progress: 30 });
  });
});

describe("step bars", () => {
  it("take each step's slice of the job's bar from the weights the job carries", () => {
    const even = jobWith({ concept: 10, image: 40, video: 40, upload: 10 });
    const s = applyEvent(initialProgress(even), ev("1-0", "step.progress", "image", 30));
    expect(s.steps.find((x) => x.name === "image")?.progress).toBe(50); // (30 - 10) of 40
    const usual = applyEvent(initialProgress(job), ev("1-0", "step.progress", "image", 15));
    expect(usual.steps.find((x) => x.name === "image")?.progress).toBe(50); // (15 - 5) of 20
  });

  it("start from the job's own step states", () => {
    const resumed = { ...job, steps: job.steps.map((x) => (x.name === "concept" ? { ...x, status: "succeeded" as const, progress: 100 } : x)) };
    expect(initialProgress(resumed).steps.map((x) => [x.name, x.status])).toEqual(
      [["concept", "succeeded"], ["image", "pending"], ["video", "pending"], ["upload", "pending"]]);
  });
});

describe("compareIds", () => {
  it("orders Redis stream ids numerically", () => {
    expect(compareIds("10-0", "9-5")).toBeGreaterThan(0);
    expect(compareIds("9-10", "9-9")).toBeGreaterThan(0);
    expect(compareIds("9-1", "9-1")).toBe(0);
  });
});

describe("time left", () => {
  it("counts each estimate from when it arrived, and drops it when the job ends", () => {
    let s = applyEvent(initialProgress(), { ...ev("1-0", "step.progress", "video", 40), eta_s: 40 }, 1_000);
    expect(s.endsAt).toBe(41_000);
    s = applyEvent(s, ev("2-0", "step.progress", "video", 45), 2_000); // no estimate: the last one stands
    expect(s.endsAt).toBe(41_000);
    s = applyEvent(s, { ...ev("3-0", "job.succeeded", null, 100), eta_s: 0 }, 3_000);
    expect(s.endsAt).toBeNull();
  });

  it("says it as a person would", () => {
    expect(timeLeftText(null)).toBeNull();
    expect(timeLeftText(3)).toBe("a few seconds left");
    expect(timeLeftText(12.4)).toBe("about 12 s left");
    expect(timeLeftText(41)).toBe("about 40 s left");
    expect(timeLeftText(200)).toBe("about 3 min left");
  });
});
