// Pure state of a job's live progress, folded from its events (testable without a browser).
import type { EventType, Job, JobEvent, JobStatus, Step, StepStatus } from "../api/types";

// Events carry the job's progress; a step's own bar is its slice of it, the step's `weight`
// (its share of the job's bar, served with each step of the job).
export interface StepView { name: Step["name"]; status: StepStatus; progress: number; weight: number; message: string | null }
export interface ProgressState {
  status: JobStatus;
  progress: number;
  steps: StepView[];
  lastEventId: string | null;
  messages: JobEvent[];
  updates: number; // events applied so far (0 until the first one arrives)
  /** When the job should end, on this browser's clock (ms): the latest event's eta_s counted
   * from when it arrived (the server's clock may differ); null without an estimate. */
  endsAt: number | null;
}

export function initialProgress(job?: Job): ProgressState {
  const steps = (job?.steps ?? []).map((s): StepView =>
    ({ name: s.name, status: s.status, progress: s.progress, weight: s.weight, message: null }));
  return { status: job?.status ?? "queued", progress: job?.progress ?? 0, steps, lastEventId: null,
    messages: [], updates: 0, endsAt: null };
}

/** The job's progress when the step begins: the weights of the steps before it (the job's order). */
function stepBase(steps: StepView[], name: string): number {
  let base = 0;
  for (const s of steps) {
    if (s.name === name) return base;
    base += s.weight;
  }
  return base;
}

const STEP_STATUS: Partial<Record<EventType, StepStatus>> = {
  "step.started": "running", "step.progress": "running", "step.succeeded": "succeeded", "step.failed": "failed",
};
const JOB_STATUS: Partial<Record<EventType, JobStatus>> = {
  "job.queued": "queued", "job.started": "running", "job.retrying": "queued", "job.succeeded": "succeeded",
  "job.failed": "failed", "job.canceled": "canceled", "step.started": "running", "step.progress": "running",
};

export function applyEvent(state: ProgressState, event: JobEvent, receivedAt: number = Date.now()): ProgressState {
  if (state.lastEventId !== null && compareIds(event.id, state.lastEventId) <= 0) return state; // seen
  const status = JOB_STATUS[event.type] ?? state.status;
  let progress = event.progress ?? state.progress;
  if (event.type === "job.retrying") progress = event.progress ?? state.progress;
  else progress = Math.max(state.progress, progress);
  const steps = state.steps.map((s): StepView => {
    if (event.type === "job.canceled" && s.status === "running") return { ...s, status: "canceled" };
    if (s.name !== event.step) return s;
    let own = s.progress;
    if (event.type === "step.succeeded") own = 100;
    else if (event.progress !== null && s.weight > 0) {
      own = Math.max(own, Math.round(((event.progress - stepBase(state.steps, s.name)) * 100) / s.weight));
    }
    return { ...s, status: STEP_STATUS[event.type] ?? s.status, progress: Math.min(100, Math.max(0, own)),
      message: event.message ?? s.message };
  });
  const finished = status === "succeeded" ? 100 : progress;
  const ended = event.type === "job.succeeded" || event.type === "job.failed" || event.type === "job.canceled";
  const endsAt = ended ? null : typeof event.eta_s === "number" ? receivedAt + event.eta_s * 1000 : state.endsAt;
  return { status, progress: finished, steps, lastEventId: event.id,
    messages: [...state.messages, event].slice(-50), updates: state.updates + 1, endsAt };
}

/** "about 40 s left", as a person would say it; null without an estimate. */
export function timeLeftText(seconds: number | null | undefined): string | null {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return null;
  if (seconds < 5) return "a few seconds left";
  if (seconds < 20) return `about ${Math.round(seconds)} s left`;
  if (seconds < 90) return `about ${Math.round(seconds / 5) * 5} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

/** Redis stream ids "ms-seq": numeric order, not string order. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am !== bm ? am - bm : (as ?? 0) - (bs ?? 0);
}
