// Money and platform AI as people read them: the API counts integer micro-dollars (1 USD =
// 1 000 000); people see dollars: whole cents, and four decimals below 10 cents when cents
// would hide the amount.
import type { StepEstimate } from "./api/types";

export const MICROS_PER_DOLLAR = 1_000_000;

/** "$12.50", "$0.19", "$0.05", "$0.0063", "<$0.0001"; "$0" for nothing at all. */
export function dollars(micros: number): string {
  if (!micros) return "$0";
  const sign = micros < 0 ? "-" : "";
  const value = Math.abs(micros) / MICROS_PER_DOLLAR;
  if (value < 0.0001) return `${sign}<$0.0001`;
  const cents = value >= 0.1 || Math.abs(micros) % 10_000 === 0;
  return `${sign}$${value.toFixed(cents ? 2 : 4)}`;
}

/** Whose account a provider call runs on, as the form and the job page say it. */
export const ACCOUNT_TEXT: Record<StepEstimate["account"], string> = {
  platform: "included in your plan",
  own: "your own key",
  none: "offline",
};

// The purposes a plan's AI is given for, in the order a job runs them.
export const PURPOSE_TEXT: Record<string, string> = {
  concept: "Script", image: "Images", narration: "Narration", video: "Video",
};

/** "openai gpt-image-1 (medium)": a provider and what of it runs. */
export function modelText(ai: { provider: string; model?: string | null; quality?: string | null }): string {
  return [ai.provider, ai.model, ai.quality ? `(${ai.quality})` : null].filter(Boolean).join(" ");
}

/** "about 40 s", "about 3 min": how long a video takes from submission. */
export function wallText(seconds: number): string {
  if (seconds < 20) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90) return `about ${Math.round(seconds / 5) * 5} s`;
  return `about ${Math.round(seconds / 60)} min`;
}

/** The details of a 402 credits_exhausted: what the job needs and what is available. */
export function creditsShortfall(details: unknown): { needed: number; available: number } | null {
  if (typeof details !== "object" || details === null) return null;
  const { needed, available } = details as Record<string, unknown>;
  return typeof needed === "number" && typeof available === "number" ? { needed, available } : null;
}
