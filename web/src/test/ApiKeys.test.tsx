import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { afterEach, expect, it, vi } from "vitest";
import { ApiKeysPage } from "../pages/ApiKeys";

afterEach(() => vi.unstubAllGlobals());

it("shows a new key once, then only its prefix", async () => {
  const keys: { id: string; name: string; prefix: string; created_at: string; last_used_at: null }[] = [];
  vi.stubGlobal("fetch", vi.fn(async (_url: string, init?: RequestInit) => {
    if (init?.method === "POST") {
      keys.push({ id: "key_1", name: "ci", prefix: "ak_abc123", created_at: "2026-01-01T00:00:00Z", last_used_at: null });
      return new Response(JSON.stringify({ ...keys[0], key: "ak_abc123SECRETSECRET" }), { status: 201 });
    }
    return new Response(JSON.stringify({ items: keys, next_cursor: null }));
  }));
  render(<QueryClientProvider client={new QueryClient()}><ApiKeysPage /></QueryClientProvider>);
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Name"), "ci{Enter}");
  expect((await screen.findByTestId("new-key")).textContent).toBe("ak_abc123SECRETSECRET");
  await waitFor(() => expect(screen.getByRole("row", { name: /ci/ }).textContent).toContain("ak_abc123…"));
  await user.click(screen.getByRole("button", { name: "I stored it" }));
  expect(screen.queryByText(/SECRETSECRET/)).toBeNull();
});
