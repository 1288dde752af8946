import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, setUnauthorizedHandler, tokenStore } from "../api/client";

function reply(status: number, body: unknown) {
  return vi.fn().mockResolvedValue(new Response(body === null ? null : JSON.stringify(body), { status }));
}

afterEach(() => vi.unstubAllGlobals());

describe("api", () => {
  it("sends the bearer token and JSON body", async () => {
    tokenStore.set("tok");
    const fetchMock = reply(201, { id: "k" });
    vi.stubGlobal("fetch", fetchMock);
    expect(await api("/v1/api-keys", { method: "POST", body: { name: "x" } })).toEqual({ id: "k" });
    const [, init] = fetchMock.mock.calls[0];
    expect(init.headers.Authorization).toBe("Bearer tok");
    expect(init.headers["Content-Type"]).toBe("application/json");
    expect(init.body).toBe('{"name":"x"}');
  });

  it("a 401 clears the token and calls the handler", async () => {
    tokenStore.set("old");
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    vi.stubGlobal("fetch", reply(401, { error: { code: "invalid_token", message: "expired" } }));
    await expect(api("/v1/me")).rejects.toMatchObject({ status: 401, code: "invalid_token" });
    expect(tokenStore.get()).toBeNull();
    expect(handler).toHaveBeenCalledOnce();
  });

  it("a wrong password (401 on /v1/auth/) is an error, not a logout", async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    vi.stubGlobal("fetch", reply(401, { error: { code: "invalid_credentials", message: "no" } }));
    await expect(api("/v1/auth/login", { method: "POST", body: {} })).rejects.toBeInstanceOf(ApiError);
    expect(handler).not.toHaveBeenCalled();
  });

  it("maps 422 details to fields", async () => {
    vi.stubGlobal("fetch", reply(422, { error: { code: "validation_error", message: "bad",
      details: [{ field: "duration_s", message: "too long" }, { field: "providers.image", message: "unknown" }] } }));
    const err = (await api("/v1/jobs", { method: "POST", body: {} }).catch((e: unknown) => e)) as ApiError;
    expect(err.fieldErrors()).toEqual({ duration_s: "too long", "providers.image": "unknown" });
  });

  it("a network failure is a clear ApiError", async () => {
    vi.stubGlobal("fetch", vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    await expect(api("/v1/me")).rejects.toMatchObject({ code: "network_error" });
  });
});
