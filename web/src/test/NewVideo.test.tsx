import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { jobRequest, NewVideoPage } from "../pages/NewVideo";

const me = { id: "u", email: "a@b.c", plan: { name: "free", monthly_jobs: 5, max_duration_s: 30, max_concurrency: 1, retention_days: 7 },
  usage: { period_start: "", period_end: "", jobs_used: 0, running: 0 }, membership: null };
const providers = { items: [{ step: "image", default: "offline", included: null, providers: [
  { name: "offline", needs_key: false, has_key: false }, { name: "openai", needs_key: true, has_key: false }] }] };
const estimate = { steps: [
  { purpose: "concept", provider: "openai", account: "platform", model: "gpt-4o-mini", cost_micros: 1_260 },
  { purpose: "image", provider: "openai", account: "own", model: null, cost_micros: 189_000 },
  { purpose: "narration", provider: "offline", account: "none", model: null, cost_micros: 0 }],
  cost_micros: 190_260, credits_micros: 1_260, credits_available_micros: 10_000_000, fits: true, wall_s: 42, plan: "pro" };

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

function api(jobReply: { status: number; body: unknown }, estimateReply: unknown = estimate, catalog: unknown = providers) {
  return vi.fn(async (url: string, _init?: RequestInit) => {
    if (url === "/v1/me") return new Response(JSON.stringify(me));
    if (url === "/v1/providers") return new Response(JSON.stringify(catalog));
    if (url === "/v1/jobs/estimate") return new Response(JSON.stringify(estimateReply));
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

describe("the estimate and what the plan includes", () => {
  it("shows per step what runs on whose account, the credits it reserves and the time it takes", async () => {
    const fetchMock = api({ status: 202, body: {} });
    renderPage(fetchMock);
    expect(await screen.findByText("Describe the video to see what it costs and how long it takes.")).toBeTruthy();
    await userEvent.setup().type(await screen.findByLabelText("Prompt"), "A fox");
    const summary = await screen.findByTestId("estimate-summary");
    expect(summary.textContent).toBe("Reserves $0.0013 of your $10.00 credits (up to $0.19 more on your own keys); ready in about 40 s.");
    const rows = screen.getAllByRole("row").slice(1).map((row) => row.textContent);
    expect(rows).toEqual(["Scriptopenai gpt-4o-miniincluded in your plan$0.0013", "Imagesopenaiyour own key$0.19",
      "Narrationofflineofflinefree"]);
    const asked = fetchMock.mock.calls.filter(([url]) => url === "/v1/jobs/estimate");
    expect(JSON.parse(asked[asked.length - 1][1]!.body as string).prompt).toBe("A fox");
    expect(fetchMock.mock.calls.some(([url]) => url === "/v1/jobs")).toBe(false);
  });

  it("says plainly when the credits do not cover the video", async () => {
    renderPage(api({ status: 202, body: {} }, { ...estimate, credits_micros: 80_000, credits_available_micros: 20_000, fits: false }));
    await userEvent.setup().type(await screen.findByLabelText("Prompt"), "A fox");
    expect((await screen.findByText(/Your credits do not cover this video/)).textContent).toContain(
      "it reserves $0.08 and you have $0.02 available");
  });

  it("shows a 402 credits_exhausted with what is needed and what is available", async () => {
    renderPage(api({ status: 402, body: { error: { code: "credits_exhausted", message: "Not enough credits",
      details: { needed: 190_260, available: 1_000 } } } }));
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Prompt"), "A fox");
    await user.click(screen.getByRole("button", { name: "Make the video" }));
    expect((await screen.findByTestId("credits-exhausted")).textContent).toContain(
      "this video needs $0.19 and you have $0.0010 available");
    expect(screen.getByRole("link", { name: "Add credits or upgrade" }).getAttribute("href")).toBe("/billing");
  });

  it("says per step what the plan includes and what needs your own key", async () => {
    const catalog = { items: [
      { step: "image", default: "offline", included: { provider: "openai", model: "gpt-image-1", quality: "medium", available: true },
        providers: [{ name: "offline", needs_key: false, has_key: true }, { name: "openai", needs_key: true, has_key: false }] },
      { step: "narration", default: "offline", included: null,
        providers: [{ name: "offline", needs_key: false, has_key: true }, { name: "openai", needs_key: true, has_key: false }] }] };
    renderPage(api({ status: 202, body: {} }, estimate, catalog));
    expect(await screen.findByText("Included in your plan: openai gpt-image-1 (medium)")).toBeTruthy();
    expect(screen.getByText("Not in your plan: openai needs your own key, else offline")).toBeTruthy();
    expect(screen.getByRole("option", { name: "Default (included in your plan)" })).toBeTruthy();
    expect(screen.getByLabelText("image provider").getAttribute("aria-describedby")).toBe("provider-image-hint");
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

  it("asks for AI motion only when chosen", () => {
    const form = { source: "prompt" as const, prompt: "p", script: "", scenes: [], duration_s: 5, aspect: "9:16", style: "",
      voice: "", language: "", providers: {} };
    expect(jobRequest({ ...form, motion: "ai" })).toEqual({ prompt: "p", duration_s: 5, aspect: "9:16", motion: "ai" });
    expect(jobRequest({ ...form, motion: "none" })).toEqual({ prompt: "p", duration_s: 5, aspect: "9:16" });
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
