import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { afterEach, expect, it, vi } from "vitest";
import { CreditPacks } from "../components/CreditPacks";

afterEach(() => vi.unstubAllGlobals());

const packs = { items: [{ name: "small", credits_micros: 5_000_000, price_micros: 4_500_000 }] };

function show(verified = true, at = "/billing") {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={[at]}><CreditPacks verified={verified} /></MemoryRouter>
    </QueryClientProvider>);
}

it("offers each pack with its credits and price, and buys one through checkout", async () => {
  const sent: unknown[] = [];
  const assign = vi.fn();
  vi.stubGlobal("location", { ...window.location, assign });
  vi.stubGlobal("fetch", vi.fn(async (url: string, init?: RequestInit) => {
    if (url.endsWith("/v1/billing/checkout")) {
      sent.push(JSON.parse(String(init?.body)));
      return new Response(JSON.stringify({ id: "ch_1", plan: null, pack: "small", url: "https://whop.test/ch_1" }), { status: 201 });
    }
    return new Response(JSON.stringify(packs));
  }));
  show();
  expect(await screen.findByText("$5.00 of credits")).toBeTruthy();
  await userEvent.setup().click(screen.getByRole("button", { name: "Buy for $4.50" }));
  await vi.waitFor(() => expect(assign).toHaveBeenCalledWith("https://whop.test/ch_1"));
  expect(sent).toEqual([{ pack: "small" }]);
});

it("waits for a verified address, and thanks the buyer who comes back from Whop", async () => {
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(packs))));
  show(false, "/billing?checkout=pack");
  expect(((await screen.findByRole("button", { name: "Buy for $4.50" })) as HTMLButtonElement).disabled).toBe(true);
  expect(screen.getByRole("status").textContent).toMatch(/credits arrive/);
});

it("shows nothing when no pack is on sale", async () => {
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ items: [] }))));
  show();
  await vi.waitFor(() => expect(screen.queryByRole("region", { name: "Credit packs" })).toBeNull());
});
