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
}

export function initialProgress(job?: Job): ProgressState {
  const steps = (job?.steps ?? []).map((s): StepView =>
    ({ name: s.name, status: s.status, progress: s.progress, weight: s.weight, message: null }));
  return { status: job?.status ?? "queued", progress: job?.progress ?? 0, steps, lastEventId: null,
    messages: [], updates: 0 };
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

export function applyEvent(state: ProgressState, event: JobEvent): ProgressState {
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
  return { status, progress: finished, steps, lastEventId: event.id,
    messages: [...state.messages, event].slice(-50), updates: state.updates + 1 };
}

/** Redis stream ids "ms-seq": numeric order, not string order. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am !== bm ? am - bm : (as ?? 0) - (bs ?? 0);
}
