import { describe, expect, it } from "vitest";
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
