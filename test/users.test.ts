import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addMember, api, expectError, ISO_MS, registerOrg, uniqueEmail, UUID } from "./helpers";

const USER_SHAPE = {
  id: expect.stringMatching(UUID),
  email: expect.any(String),
  firstName: expect.any(String),
  lastName: expect.any(String),
  role: expect.stringMatching(/^(admin|editor|viewer)$/),
  createdAt: expect.stringMatching(ISO_MS),
  updatedAt: expect.stringMatching(ISO_MS),
};

describe("the current user", () => {
  it("GET /me has exactly the spec's fields", async () => {
    const admin = await registerOrg();
    const res = await api("GET", "/api/users/me", { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...USER_SHAPE, email: admin.email, firstName: "Ada", lastName: "Admin", role: "admin" });
  });

  it("PATCH /me updates names and updatedAt", async () => {
    const admin = await registerOrg();
    const before = await api("GET", "/api/users/me", { token: admin.token });
    await new Promise((r) => setTimeout(r, 5));
    const res = await api("PATCH", "/api/users/me", { token: admin.token, body: { firstName: "John Updated", lastName: "Doe Updated" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...before.body, firstName: "John Updated", lastName: "Doe Updated", updatedAt: expect.stringMatching(ISO_MS) });
    expect(res.body.updatedAt > before.body.updatedAt).toBe(true);
  });

  it("PATCH /me refuses role changes and unknown fields", async () => {
    const admin = await registerOrg();
    const res = await api("PATCH", "/api/users/me", { token: admin.token, body: { role: "viewer", email: "x@y.z" } });
    // No known field left either: reported on `body`, as for dashboard and widget patches.
    expect(expectError(res, 400, "validation_error").map((d) => d.field).sort()).toEqual(["body", "email", "role"]);
    const blank = await api("PATCH", "/api/users/me", { token: admin.token, body: { firstName: "   " } });
    expect(expectError(blank, 400, "validation_error")).toEqual([{ field: "firstName", message: expect.any(String) }]);
  });
});

describe("changing a password", () => {
  it("needs the current password, then signs out the other sessions", async () => {
    const admin = await registerOrg();
    const other = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });

    const wrong = await api("POST", "/api/users/me/password", { token: admin.token, body: { currentPassword: "nope-nope", newPassword: "a brand new password" } });
    expectError(wrong, 401, "invalid_credentials");
    const weak = await api("POST", "/api/users/me/password", { token: admin.token, body: { currentPassword: admin.password, newPassword: "short" } });
    expect(expectError(weak, 400, "validation_error")).toEqual([{ field: "newPassword", message: expect.any(String) }]);

    const ok = await api("POST", "/api/users/me/password", { token: admin.token, body: { currentPassword: admin.password, newPassword: "a brand new password" } });
    expect(ok.status).toBe(204);
    // The other session's refresh token is revoked; this session's survives.
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: other.body.refreshToken } }), 401, "unauthorized");
    expect((await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } })).status).toBe(200);
    expectError(await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } }), 401, "invalid_credentials");
    expect((await api("POST", "/api/auth/login", { body: { email: admin.email, password: "a brand new password" } })).status).toBe(200);
  });
});

describe("managing members (admins)", () => {
  it("creates, lists, reads, updates and deletes members of the organization", async () => {
    const admin = await registerOrg();
    const email = uniqueEmail("member");
    const created = await api("POST", "/api/users", {
      token: admin.token,
      body: { email, password: "initial password", firstName: "Mem", lastName: "Ber", role: "editor" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ ...USER_SHAPE, email, firstName: "Mem", lastName: "Ber", role: "editor" });

    const list = await api("GET", "/api/users?limit=1&sort=email", { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.meta).toEqual({ total: 2, page: 1, limit: 1, pages: 2 });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toEqual(USER_SHAPE);

    const got = await api("GET", `/api/users/${created.body.id}`, { token: admin.token });
    expect(got.body).toEqual(created.body);

    const patched = await api("PATCH", `/api/users/${created.body.id}`, { token: admin.token, body: { role: "viewer", lastName: "Changed" } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ role: "viewer", lastName: "Changed" });

    expect((await api("DELETE", `/api/users/${created.body.id}`, { token: admin.token })).status).toBe(204);
    expectError(await api("GET", `/api/users/${created.body.id}`, { token: admin.token }), 404, "not_found");
  });

  it("a role change takes effect at once, even for a token issued before it", async () => {
    const admin = await registerOrg();
    const member = await addMember(admin, "editor");
    await api("PATCH", `/api/users/${member.id}`, { token: admin.token, body: { role: "admin" } });
    expect((await api("GET", "/api/users", { token: member.token })).status).toBe(200);
    await api("DELETE", `/api/users/${member.id}`, { token: admin.token });
    expectError(await api("GET", "/api/users/me", { token: member.token }), 401, "unauthorized");
  });

  it("refuses a duplicate email with 409", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/users", {
      token: admin.token,
      body: { email: admin.email.toUpperCase(), password: "initial password", firstName: "A", lastName: "B", role: "viewer" },
    });
    expectError(res, 409, "conflict");
  });

  it("keeps the last admin: no demotion, no deletion", async () => {
    const admin = await registerOrg();
    expectError(await api("PATCH", `/api/users/${admin.id}`, { token: admin.token, body: { role: "editor" } }), 409, "conflict");
    expectError(await api("DELETE", `/api/users/${admin.id}`, { token: admin.token }), 409, "conflict");
    // With a second admin, the first can step down.
    const second = await addMember(admin, "admin");
    expect((await api("PATCH", `/api/users/${admin.id}`, { token: admin.token, body: { role: "editor" } })).status).toBe(200);
    expectError(await api("DELETE", `/api/users/${second.id}`, { token: second.token }), 409, "conflict");
  });

  it("refuses editors and viewers with 403", async () => {
    const admin = await registerOrg();
    for (const role of ["editor", "viewer"] as const) {
      const member = await addMember(admin, role);
      expectError(await api("GET", "/api/users", { token: member.token }), 403, "forbidden");
      expectError(await api("POST", "/api/users", { token: member.token, body: {} }), 403, "forbidden");
      expectError(await api("DELETE", `/api/users/${admin.id}`, { token: member.token }), 403, "forbidden");
      expect((await api("GET", "/api/users/me", { token: member.token })).status).toBe(200);
    }
  });

  it("never shows or touches another organization's members", async () => {
    const a = await registerOrg();
    const b = await registerOrg();
    expectError(await api("GET", `/api/users/${b.id}`, { token: a.token }), 404, "not_found");
    expectError(await api("PATCH", `/api/users/${b.id}`, { token: a.token, body: { firstName: "Hacked" } }), 404, "not_found");
    expectError(await api("DELETE", `/api/users/${b.id}`, { token: a.token }), 404, "not_found");
    const list = await api("GET", "/api/users", { token: a.token });
    expect(list.body.data.map((u: { id: string }) => u.id)).toEqual([a.id]);
    expect((await api("GET", "/api/users/me", { token: b.token })).body.firstName).toBe("Ada");
  });

  it("answers non-UUID ids with 404 and bad list parameters with 400", async () => {
    const admin = await registerOrg();
    expectError(await api("GET", "/api/users/not-a-uuid", { token: admin.token }), 404, "not_found");
    const details = expectError(await api("GET", "/api/users?page=0&limit=500&sort=password", { token: admin.token }), 400, "validation_error");
    expect(details.map((d) => d.field).sort()).toEqual(["limit", "page", "sort"]);
  });

  it("never returns a password hash", async () => {
    const admin = await registerOrg();
    await addMember(admin, "viewer");
    const list = await api("GET", "/api/users", { token: admin.token });
    const raw = JSON.stringify(list.body);
    expect(raw).not.toMatch(/pbkdf2|passwordHash|password_hash/);
    const hashes = await env.DB.prepare("SELECT password_hash FROM users").all<{ password_hash: string }>();
    for (const row of hashes.results) expect(raw).not.toContain(row.password_hash.split("$")[3]);
  });
});
