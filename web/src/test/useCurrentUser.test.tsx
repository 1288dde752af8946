import { render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { afterEach, expect, it, vi } from "vitest";
import { useCurrentUser } from "../hooks/useCurrentUser";

afterEach(() => vi.unstubAllGlobals());

function Email({ testId }: { testId: string }) {
  const me = useCurrentUser();
  return <p data-testid={testId}>{me.data?.email ?? "…"}</p>;
}

it("asks the API once for every component that shows the current user", async () => {
  const fetchMock = vi.fn(async () => new Response(JSON.stringify({ id: "usr_1", email: "a@example.com" })));
  vi.stubGlobal("fetch", fetchMock);
  render(
    <QueryClientProvider client={new QueryClient()}>
      <Email testId="banner" /><Email testId="page" />
    </QueryClientProvider>,
  );
  expect((await screen.findByText("a@example.com", { selector: "[data-testid=page]" })).textContent).toBe("a@example.com");
  expect(screen.getByTestId("banner").textContent).toBe("a@example.com");
  expect(fetchMock).toHaveBeenCalledOnce();
  expect((fetchMock.mock.calls[0] as unknown[])[0]).toBe("/v1/me");
});
