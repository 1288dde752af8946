import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { afterEach, expect, it, vi } from "vitest";
import { WebhooksPage } from "../pages/Webhooks";

afterEach(() => vi.unstubAllGlobals());

const endpoint = { id: "we_1", url: "https://example.com/hook", events: ["job.succeeded"], created_at: "2026-01-01T00:00:00Z" };

it("shows a new endpoint's secret once and lists the endpoint at once, before the list is refetched", async () => {
  let created = false;
  vi.stubGlobal("fetch", vi.fn(async (_url: string, init?: RequestInit) => {
    if (init?.method === "POST") {
      created = true;
      return new Response(JSON.stringify({ ...endpoint, secret: "whsec_SECRET" }), { status: 201 });
    }
    if (!created) return new Response(JSON.stringify({ items: [], next_cursor: null }));
    // the refetch after the create has not answered yet: only the page itself can list the endpoint
    return new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("", "AbortError"))));
  }));
  render(<QueryClientProvider client={new QueryClient()}><WebhooksPage /></QueryClientProvider>);
  expect(await screen.findByText("No endpoints yet.")).toBeTruthy();
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Endpoint URL"), "https://example.com/hook{Enter}");
  expect((await screen.findByTestId("new-secret")).textContent).toBe("whsec_SECRET");
  expect(screen.getByRole("row", { name: /example\.com\/hook/ })).toBeTruthy();
  await user.click(screen.getByRole("button", { name: "I stored it" }));
  expect(screen.queryByText(/whsec_SECRET/)).toBeNull();
});

it("hides the secret when its endpoint is deleted", async () => {
  let items: unknown[] = [];
  vi.stubGlobal("fetch", vi.fn(async (_url: string, init?: RequestInit) => {
    if (init?.method === "POST") { items = [endpoint]; return new Response(JSON.stringify({ ...endpoint, secret: "whsec_SECRET" }), { status: 201 }); }
    if (init?.method === "DELETE") { items = []; return new Response(null, { status: 204 }); }
    return new Response(JSON.stringify({ items, next_cursor: null }));
  }));
  render(<QueryClientProvider client={new QueryClient()}><WebhooksPage /></QueryClientProvider>);
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Endpoint URL"), "https://example.com/hook{Enter}");
  await screen.findByTestId("new-secret");
  await user.click(screen.getByRole("button", { name: "Delete https://example.com/hook" }));
  await waitFor(() => expect(screen.queryByTestId("new-secret")).toBeNull());
  expect(await screen.findByText("No endpoints yet.")).toBeTruthy();
});
