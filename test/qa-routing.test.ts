import { describe, expect, it } from "vitest";
import { addMember, api, expectError, registerOrg } from "./helpers";

describe("405 versus 404", () => {
  it("a path that only differs by a trailing slash is not a 405 for a method the route takes", async () => {
    const admin = await registerOrg();
    for (const path of ["/api/health/", "/api/dashboards/", "/api/users/me/"]) {
      const res = await api("GET", path, { token: admin.token });
      expectError(res, 404, "not_found");
      expect(res.headers.get("allow")).toBeNull();
    }
  });

  it("still answers 405 with Allow for a method the path does not take", async () => {
    const admin = await registerOrg();
    const res = await api("DELETE", "/api/dashboards", { token: admin.token });
    expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, POST");
  });
});

describe("empty user patches", () => {
  it("PATCH /api/users/me with no fields is a validation error, not a silent updatedAt bump", async () => {
    const admin = await registerOrg();
    const before = await api("GET", "/api/users/me", { token: admin.token });
    const res = await api("PATCH", "/api/users/me", { token: admin.token, body: {} });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "body", message: expect.any(String) }]);
    const after = await api("GET", "/api/users/me", { token: admin.token });
    expect(after.body.updatedAt).toBe(before.body.updatedAt);
  });

  it("PATCH /api/users/:id with no fields is a validation error", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const res = await api("PATCH", `/api/users/${viewer.id}`, { token: admin.token, body: {} });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "body", message: expect.any(String) }]);
  });
});
