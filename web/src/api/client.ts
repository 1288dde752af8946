// One way to call the API: same origin, JSON in and out, the bearer token from the session,
// errors as ApiError (the envelope's code, message and field details), 401 -> back to log in.

// One entry of a 422's details (the document types `details` as any JSON).
interface FieldProblem { field: string; message: string; type?: string }

const TOKEN_KEY = "media.token";

// The access token lives in sessionStorage: it survives a reload but not the tab, and is never
// written to a cookie or a URL (EventSource uses a job-scoped stream token instead).
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public details?: unknown) {
    super(message);
  }
  /** The 422 details as {field: message}, keyed by the field path without "body." */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (Array.isArray(this.details)) {
      for (const d of this.details as FieldProblem[]) {
        if (d && typeof d.field === "string") out[d.field.replace(/^body\./, "")] ??= d.message;
      }
    }
    return out;
  }
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void) {
  onUnauthorized = handler;
}

export interface CallOptions { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }

export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers ?? {}) };
  const token = tokenStore.get();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method: opts.method ?? "GET", headers, signal: opts.signal,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "The server could not be reached. Check your connection.");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const failure = new ApiError(response.status, err?.code ?? "http_error",
      err?.message ?? `The server answered ${response.status}`, err?.details);
    if (response.status === 401 && token && !path.startsWith("/v1/auth/")) {
      tokenStore.clear();
      onUnauthorized();
    }
    throw failure;
  }
  return data as T;
}
