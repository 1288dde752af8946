// The HTTP contract's shapes the console uses (served as /v1/openapi.json; see shared/API.md).
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled" | "expired";
export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "canceled" | "skipped";
export const JOB_STATUSES: JobStatus[] = ["queued", "running", "succeeded", "failed", "canceled", "expired"];
export const TERMINAL: JobStatus[] = ["succeeded", "failed", "canceled", "expired"];

export interface User { id: string; email: string; created_at: string; email_verified?: boolean }
export interface TokenReply { user: User; access_token: string; token_type: "bearer"; expires_in: number }
export interface PlanInfo {
  name: string; monthly_jobs: number; max_duration_s: number; max_concurrency: number; retention_days: number;
}
export interface PlanOffer extends PlanInfo { purchasable: boolean }
export interface Me {
  id: string; email: string; email_verified?: boolean; plan: PlanInfo;
  usage: { period_start: string; period_end: string; jobs_used: number; running: number };
  membership: { status: string; whop_membership_id: string; plan: string; cancel_at_period_end: boolean;
    renewal_period_end: string | null } | null;
}
export interface Page<T> { items: T[]; next_cursor: string | null }

export interface StepUsage {
  purpose: string; provider: string; model?: string | null; tokens_in: number; tokens_out: number;
  characters: number; images: number; audio_s: number; bytes: number; wall_s: number;
}
export interface Step {
  name: string; status: StepStatus; progress: number; attempt: number;
  started_at: string | null; finished_at: string | null; provider?: string | null; usage?: StepUsage[];
}
export interface Job {
  id: string; status: JobStatus; progress: number; current_step: string | null; attempt: number;
  steps: Step[]; error: { code: string; message: string; step: string | null } | null;
  outputs: { video_url: string; thumbnail_url: string; captions_url: string; expires_at: string } | null;
  request: Record<string, unknown> & { prompt?: string; script?: string; scenes?: { text: string }[];
    duration_s?: number; aspect?: string };
  notes?: string[]; created_at: string; started_at: string | null; finished_at: string | null;
  eta_s?: number | null; eta_at?: string | null; // time left, the server's latest estimate
}
export interface JobEvent {
  id: string; type: string; step: string | null; progress: number | null; message: string | null; at: string;
  eta_s?: number | null; eta_at?: string | null; // time left as of this event
}
export interface EventPage { events: JobEvent[]; next: string; status: JobStatus }

export interface ApiKey { id: string; name: string; prefix: string; created_at: string; last_used_at: string | null }
export interface ApiKeyCreated { id: string; name: string; key: string; prefix: string; created_at: string }
export interface ProviderKey { provider: string; last4: string; base_url: string | null; updated_at: string }
export interface ProviderOption { name: string; needs_key: boolean; has_key: boolean }
export interface VoiceOption { name: string; provider: string; engine: string; languages: string[]; default?: boolean }
export interface StepProviders { step: string; default: string; providers: ProviderOption[] }
export interface WebhookEndpoint {
  id: string; url: string; events: string[]; created_at: string; last_delivery_at?: string | null;
  last_status?: number | null;
}
export interface WebhookEndpointCreated { id: string; url: string; events: string[]; secret: string; created_at: string }
export interface AuditEntry { id: string; action: string; target: string | null; ip: string | null;
  details: Record<string, unknown> | null; at: string }
export interface UploadForm { id: string; url: string; fields: Record<string, string>; expires_at: string; max_bytes: number }
export interface Upload { id: string; status: "pending" | "uploaded" | "rejected" | "expired"; reason?: string | null }
export interface FieldProblem { field: string; message: string; type?: string }

/** What a job is about, for titles: its prompt, else the start of its script or first scene. */
export function jobTitle(job: Job): string {
  const r = job.request;
  const text = r.prompt ?? r.script ?? r.scenes?.[0]?.text ?? job.id;
  return text.length > 140 ? `${text.slice(0, 137)}…` : text;
}
