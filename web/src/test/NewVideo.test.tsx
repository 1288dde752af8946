import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { jobRequest, NewVideoPage } from "../pages/NewVideo";

const me = { id: "u", email: "a@b.c", plan: { name: "free", monthly_jobs: 5, max_duration_s: 30, max_concurrency: 1, retention_days: 7 },
  usage: { period_start: "", period_end: "", jobs_used: 0, running: 0 }, membership: null };
const providers = { items: [{ step: "image", default: "offline", providers: [
  { name: "offline", needs_key: false, has_key: false }, { name: "openai", needs_key: true, has_key: false }] }] };

function renderPage(fetchMock: ReturnType<typeof vi.fn>) {
  vi.stubGlobal("fetch", fetchMock);
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={["/new"]}>
        <Routes>
          <Route path="/new" element={<NewVideoPage />} />
          <Route path="/jobs/:id" element={<p>job page</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

function api(jobReply: { status: number; body: unknown }) {
  return vi.fn(async (url: string, _init?: RequestInit) => {
    if (url === "/v1/me") return new Response(JSON.stringify(me));
    if (url === "/v1/providers") return new Response(JSON.stringify(providers));
    return new Response(JSON.stringify(jobReply.body), { status: jobReply.status });
  });
}

afterEach(() => vi.unstubAllGlobals());

describe("NewVideoPage", () => {
  it("shows the plan's duration bound and which providers need a key", async () => {
    renderPage(api({ status: 202, body: {} }));
    expect(await screen.findByText("5–30 s on your free plan")).toBeTruthy();
    expect((screen.getByLabelText("Duration (seconds)") as HTMLInputElement).max).toBe("30");
    expect(await screen.findByRole("option", { name: "openai (needs your key: not stored)" })).toBeTruthy();
  });

  it("puts the API's 422 details next to the fields they name", async () => {
    const fetchMock = api({ status: 422, body: { error: { code: "validation_error", message: "The request is not valid",
      details: [{ field: "duration_s", message: "Your free plan allows at most 30 s" }] } } });
    renderPage(fetchMock);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Prompt"), "A fox");
    await user.click(screen.getByRole("button", { name: "Make the video" }));
    const duration = screen.getByLabelText("Duration (seconds)");
    await waitFor(() => expect(duration.getAttribute("aria-invalid")).toBe("true"));
    const described = duration.getAttribute("aria-describedby") ?? "";
    expect(described.split(" ")).toContain("duration_s-error");
    expect(document.getElementById("duration_s-error")?.textContent).toBe("Your free plan allows at most 30 s");
    const [, init] = fetchMock.mock.calls.find(([url]) => url === "/v1/jobs")!;
    expect(JSON.parse(init!.body as string)).toEqual({ prompt: "A fox", duration_s: 15, aspect: "9:16", language: "en",
      caption_style: "karaoke" });
    expect((init!.headers as Record<string, string>)["Idempotency-Key"]).toBeTruthy();
  });

  it("goes to the job page once the job is accepted", async () => {
    renderPage(api({ status: 202, body: { id: "job_9", status: "queued" } }));
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Prompt"), "A fox");
    await user.click(screen.getByRole("button", { name: "Make the video" }));
    expect(await screen.findByText("job page")).toBeTruthy();
  });
});

describe("jobRequest", () => {
  it("leaves out empty optional fields and adds the reference image", () => {
    expect(jobRequest({ source: "prompt", prompt: " p ", script: "unused", scenes: [], duration_s: 5, aspect: "1:1",
      style: "", voice: " ", language: "fr", providers: { image: "openai", concept: "" } }, "upl_1")).toEqual({
      prompt: "p", duration_s: 5, aspect: "1:1", language: "fr", providers: { image: "openai" },
      inputs: { reference_image_upload_id: "upl_1" } });
  });

  it("adds music with its volume, and narration only when turned off", () => {
    const form = { source: "prompt" as const, prompt: "p", script: "", scenes: [], duration_s: 5, aspect: "9:16", style: "",
      voice: "", language: "", providers: {}, caption_style: "lines", narration: false, music_volume: 0.5 };
    expect(jobRequest(form, null, "upl_m")).toEqual({ prompt: "p", duration_s: 5, aspect: "9:16", caption_style: "lines",
      narration: false, music_volume: 0.5, inputs: { music_upload_id: "upl_m" } });
    expect(jobRequest({ ...form, narration: true }, null, null)).toEqual({ prompt: "p", duration_s: 5, aspect: "9:16",
      caption_style: "lines" });
  });

  it("sends exactly one source: a script, or scenes with only what was filled in", () => {
    const base = { prompt: "p", script: " Line one. Line two. ", duration_s: 5, aspect: "9:16", style: "", voice: "",
      language: "", providers: {} };
    expect(jobRequest({ ...base, source: "script", scenes: [] })).toEqual({ script: "Line one. Line two.", duration_s: 5, aspect: "9:16" });
    expect(jobRequest({ ...base, source: "scenes", scenes: [{ text: " Hi ", visual: "", duration_s: "" },
      { text: "Bye", visual: "a door", duration_s: "3" }] })).toEqual({ duration_s: 5, aspect: "9:16",
      scenes: [{ text: "Hi" }, { text: "Bye", visual: "a door", duration_s: 3 }] });
  });
});

describe("scene by scene", () => {
  it("adds and removes scenes and shows a scene's 422 next to it", async () => {
    const fetchMock = api({ status: 422, body: { error: { code: "validation_error", message: "bad",
      details: [{ field: "scenes.1.text", message: "String should have at least 1 character" }] } } });
    renderPage(fetchMock);
    const user = userEvent.setup();
    await user.click(await screen.findByLabelText("Scene by scene"));
    await user.type(screen.getByLabelText("Scene 1: line"), "First");
    await user.click(screen.getByRole("button", { name: "Add a scene" }));
    await user.click(screen.getByRole("button", { name: "Make the video" }));
    await waitFor(() => expect(screen.getByLabelText("Scene 2: line").getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById("scenes-1-text-error")?.textContent).toContain("at least 1 character");
    await user.click(screen.getByRole("button", { name: "Remove scene 2" }));
    expect(screen.queryByLabelText("Scene 2: line")).toBeNull();
  });
});
