import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { api, expectError } from "./helpers";

describe("health and routing", () => {
  it("answers ok after querying D1", async () => {
    const res = await api("GET", "/api/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers unknown routes with not_found in the error shape", async () => {
    expectError(await api("GET", "/api/nope"), 404, "not_found");
    expectError(await api("GET", "/"), 404, "not_found");
  });

  it("answers a known path with the wrong method with 405 and Allow", async () => {
    const res = await api("DELETE", "/api/health");
    expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("GET");
  });
});

describe("configuration and dependencies", () => {
  const call = async (overrides: Partial<Env>, path = "/api/health") => {
    const worker = (await import("../src/index")).default;
    const res = await worker.fetch(new Request(`http://x${path}`), { ...env, ...overrides } as Env, createExecutionContext());
    return { status: res.status, body: (await res.json()) as any };
  };

  it("refuses to serve with a missing or short JWT_SECRET or a bad ENCRYPTION_KEY, logging why", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    for (const overrides of [{ JWT_SECRET: "" }, { JWT_SECRET: "too-short" }, { ENCRYPTION_KEY: "bm90IDMyIGJ5dGVz" }]) {
      const res = await call(overrides, "/api/users/me");
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe("internal_server_error");
    }
    const lines = errors.mock.calls.map((args) => String(args[0]));
    expect(lines.some((l) => l.includes("internal_server_error") && l.includes("JWT_SECRET"))).toBe(true);
    expect(lines.some((l) => l.includes("ENCRYPTION_KEY"))).toBe(true);
    // The secret's value is never logged.
    expect(lines.join("\n")).not.toContain("too-short");
    errors.mockRestore();
  });

  it("answers 503 in the error format when D1 fails", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const brokenDb = {
      prepare: () => {
        throw new Error("D1 is down");
      },
    } as unknown as D1Database;
    const res = await call({ DB: brokenDb });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: "service_unavailable", message: expect.any(String), details: [] } });
    errors.mockRestore();
  });
});
