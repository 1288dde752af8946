// The HTTP contract's shapes, by the names the console uses: aliases over the types generated
// from the served document (./openapi.ts, `make web-types`; `make lint` fails when it is stale).
import { jobStatusValues, type components } from "./openapi";

type Schemas = components["schemas"];

export type JobStatus = Schemas["JobStatus"];
export type StepStatus = Schemas["StepStatus"];
export type EventType = Schemas["EventType"];
export const JOB_STATUSES: readonly JobStatus[] = jobStatusValues;
// Statuses a job never leaves (the API's TERMINAL): nothing more to follow.
export const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled", "expired"];

export type User = Schemas["User"];
export type TokenReply = Schemas["TokenReply"];
export type EmailVerified = Schemas["EmailVerified"];
export type Me = Schemas["Me"];
export type PlanInfo = Schemas["PlanInfo"];
export type PlanCatalog = Schemas["PlanCatalog"];
export type CheckoutSession = Schemas["CheckoutSession"];
export type Credits = Schemas["Credits"];
export type IncludedAI = Schemas["IncludedAI"];
export type PackCatalog = Schemas["PackCatalog"];

export type Job = Schemas["Job"];
export type JobList = Schemas["JobList"];
export type Step = Schemas["Step"];
export type JobEvent = Schemas["Event"];
export type EventPage = Schemas["EventPage"];
export type StreamToken = Schemas["StreamToken"];
export type JobCost = Schemas["JobCost"];
export type JobEstimate = Schemas["JobEstimate"];
export type StepEstimate = Schemas["StepEstimate"];

export type ApiKey = Schemas["ApiKey"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type ProviderKey = Schemas["ProviderKey"];
export type ProviderKeyList = Schemas["ProviderKeyList"];
export type ProviderCatalog = Schemas["ProviderCatalog"];
export type StepProviders = Schemas["StepProviders"];
export type Included = Schemas["Included"];
export type VoiceOption = Schemas["VoiceOption"];
export type WebhookEndpoint = Schemas["WebhookEndpoint"];
export type WebhookEndpointList = Schemas["WebhookEndpointList"];
export type WebhookEndpointCreated = Schemas["WebhookEndpointCreated"];
export type AuditLog = Schemas["AuditPage"];
export type UploadForm = Schemas["UploadForm"];
export type Upload = Schemas["Upload"];

// A job's `request` is the accepted body as an open object in the document: read it checked.
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** The scenes' lines of a scene-by-scene job, else null. */
export function jobScenes(job: Job): string[] | null {
  const scenes = job.request.scenes;
  if (!Array.isArray(scenes)) return null;
  return scenes.map((scene: unknown) =>
    text(typeof scene === "object" && scene !== null ? (scene as Record<string, unknown>).text : undefined) ?? "");
}

export function jobScript(job: Job): string | undefined {
  return text(job.request.script);
}

/** The job's aspect as a CSS class suffix ("9x16"). */
export function jobAspectClass(job: Job): string {
  return (text(job.request.aspect) ?? "9:16").replace(":", "x");
}

/** What a job is about, for titles: its prompt, else the start of its script or first scene. */
export function jobTitle(job: Job): string {
  const title = text(job.request.prompt) ?? jobScript(job) ?? jobScenes(job)?.[0] ?? job.id;
  return title.length > 140 ? `${title.slice(0, 137)}…` : title;
}

// The operator's console (/v1/admin), shown only when GET /v1/me says `operator`.
export type AdminOverview = Schemas["Overview"];
export type AdminCustomer = Schemas["Customer"];
export type AdminCustomerList = Schemas["CustomerList"];
export type AdminCustomerDetail = Schemas["CustomerDetail"];
export type AdminSuspension = Schemas["Suspension"];
export type AdminJobInspection = Schemas["JobInspection"];
export type AdminDeadLetterList = Schemas["DeadLetterList"];
export type AdminRedriveReply = Schemas["RedriveReply"];
export type AdminSpend = Schemas["Spend"];
export type AdminOperatorList = Schemas["OperatorList"];
export type AdminOperator = Schemas["Operator"];
